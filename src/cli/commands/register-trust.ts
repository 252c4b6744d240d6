/** Registers `trust list|add|remove|invite` with the commander program. */
import type { Command } from 'commander';
import type { Io } from '../io.js';
import { clientOptions, examples, flagsOf } from '../options.js';

// Loaded when a trust command runs, so `--help` and the other commands start without it.
const trust = () => import('./trust.js');

type Opts = Record<string, unknown>;

const done = (promise: Promise<unknown>): Promise<void> => promise.then(() => undefined);
const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** --role, --territory (repeatable), --owner (repeatable): what a member is and may hold. */
function memberOptions(cmd: Command): Command {
  return cmd
    .option('--node <id>', 'the node id the new member gets')
    .option('--role <role>', 'region, laptop or read-only')
    .option('--territory <t>', 'limit what it holds to this territory (repeatable)', collect)
    .option('--owner <o>', 'limit what it holds to records of this owner (repeatable)', collect);
}

/** Adds the commands. */
export function addTrustCommands(program: Command, io: Io): void {
  const cmd = program.command('trust').description("the cluster's trust list: who may sync, in which role (changes need an administrator node)");
  cmd.addHelpText('after', `${examples(
    'crmsync trust list -d ./berlin',
    'crmsync trust invite --node laptop-anna --role laptop --territory emea -d ./berlin',
    'crmsync trust add ed25519:… --node paris --role region -d ./berlin',
    'crmsync trust remove laptop-anna -d ./berlin',
  )}
Each runs against the running node (through its API) or, when it is stopped, on its data directory.
Exit code 7: the node is not an administrator of its cluster.
`);
  clientOptions(cmd.command('list').description('members, their roles and keys; revoked keys'))
    .addHelpText('after', examples('crmsync trust list -d ./berlin --json'))
    .action((opts: Opts) => done(trust().then((m) => m.trustList(flagsOf(opts), io))));
  memberOptions(clientOptions(cmd.command('add <fingerprint-or-invitation>')
    .description('grant a key (printed by crmsync init on its machine) a node id and role; or, on the node an invitation names, keep the code to redeem at start')))
    .option('--admin', 'also make it an administrator (it may change the trust list)')
    .addHelpText('after', examples(
      'crmsync trust add ed25519:… --node paris --role region -d ./berlin',
      'crmsync trust add ed25519:… --node laptop-ben --role laptop --territory us --owner ben -d ./berlin',
      'crmsync trust add crmsync-invite:… -d ./paris   # on paris, initialised with --cluster and not yet granted',
    ))
    .action((arg: string, opts: Opts) => done(trust().then((m) => m.trustAddArgument(arg, flagsOf(opts), io))));
  clientOptions(cmd.command('remove <node-or-fingerprint>').description('revoke a member for good (its history up to now stays valid)'))
    .addHelpText('after', examples('crmsync trust remove laptop-anna -d ./berlin', 'crmsync trust remove ed25519:… --api http://10.0.0.2:7401 --token "$TOKEN"'))
    .action((member: string, opts: Opts) => done(trust().then((m) => m.trustRemove(member, flagsOf(opts), io))));
  memberOptions(clientOptions(cmd.command('invite').description('a one-time code for a new machine: crmsync init --join <code> there')))
    .option('--expires <duration>', 'how long the code is valid: 30m, 1h, 7d (1 minute to 30 days; default 24h)')
    .option('--url <url>', "peer URL the new node dials to redeem it (repeatable; default: this node's advertised URL)", collect)
    .addHelpText('after', examples(
      'crmsync trust invite --node laptop-anna --role laptop --expires 1h -d ./berlin',
      'crmsync trust invite --node london --role region --url wss://berlin.example:7400 -d ./berlin --json',
    ))
    .action((opts: Opts) => done(trust().then((m) => m.trustInvite(flagsOf(opts), io))));
}
