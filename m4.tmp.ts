import * as A from '@automerge/automerge';
// The record skeleton, in the order the genesis change has always made it; notes are now a list of lines.
const doc = A.from<Record<string, unknown>>({}, { actor: '00' });
const next = A.change(doc, { time: 0 }, (d) => {
  d.address = {};
  d.tags = {};
  d.notes = [];
  d.custom = {};
  d.interactions = new A.Counter(0);
  d.deleted = false;
});
const bytes = A.save(next);
console.log(Buffer.from(bytes).toString('base64'));
console.log(A.getHeads(next)[0]);
console.log(JSON.stringify(A.decodeChange(A.getAllChanges(next)[0]!).ops.map((o: any) => [o.action, o.obj, o.key])));
const back = A.load(bytes);
console.log(A.getCursor(A.change(back, { actor: 'ab' } as never, (d: any) => { d.notes.push(new A.ImmutableString('x')); }) as never, ['notes'], 0));
