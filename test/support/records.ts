/** Reading whole record sets through the public API, shared by the test suites. */
import type { CrmNode, RecordView } from '../../src/index.js';

/** Every record of a node, deleted ones included, in id order, following the cursor. */
export async function listAll(node: CrmNode, pageSize = 1000): Promise<RecordView[]> {
  const all: RecordView[] = [];
  let after: string | undefined;
  do {
    const page = await node.records.list({ limit: pageSize, includeDeleted: true, ...(after === undefined ? {} : { after }) });
    all.push(...page.records);
    after = page.next;
  } while (after !== undefined);
  return all;
}
