/**
 * The preset dictionary of small frames ('deflate-raw-dict-1', frame-deflate.ts). A live
 * session sends one small frame per edit and one ack back: about 300 and 70 bytes, too
 * small for deflate to find anything to repeat inside them. Their keys, Automerge column
 * layouts and field names are the same from frame to frame, though, so both ends start
 * deflate from the same example frames: an edit's frame shrinks to about 200 bytes, an
 * ack to about 50 (what is left is mostly signatures and hashes, which never compress).
 *
 * Frozen: both ends must hold exactly these bytes. scripts/frame-dictionary.ts made them
 * once; a different dictionary needs a new encoding name, and
 * test/sync/frame-dictionary.test.ts pins this one's SHA-256.
 */
import type { NodeId } from '../types.js';

/** The dictionary's example frames (scripts/frame-dictionary.ts), base64. */
const BASE64 = [
  'hKR0eXBlp2NoYW5nZXOlZXBvY2gBpWJhdGNoAadlbnRyaWVzkYShb6Zub2RlLTChcwGhcqxjdXN0LTAwMDAwMDGhY8UB6IVv',
  'SoOuv0xjAd0DAe1UiKMh2kbigpYfg9GiTfrg0BiLztAgFG26i5k3Fi+QD25vZGUtMACEqeWtaincpQEHu6vnlqM0AAEBAAoB',
  'BgILEQYTCRWFATQDQgJWH1e+AXACAAggAQADAAgFAX4EAhkDAAMAEBgAAAMAD34AFhcBAANxBG5hbWUFZW1haWwFcGhvbmUH',
  'Y29tcGFueQV0aXRsZQVvd25lcgl0ZXJyaXRvcnkFc3RhZ2UGc3RyZWV0BGNpdHkGcmVnaW9uCHBvc3Rjb2RlB2NvdW50cnkH',
  'c2VnbWVudAhjdXN0b21lcgAZfQJpZAljcmVhdGVkQXQJdXBkYXRlZEF0DxkDKwFx5gGmAuYBxgLWAVaWAUaGAkZmViamARQZ',
  'Fn/GAQJkRXhhbXBsZSBQZXJzb25wZXJzb25AZXhhbXBsZS5jb20rNDkgMzAgMTIzNDU2N0V4YW1wbGUgQ29tcGFueSBHbWJI',
  'SGVhZCBvZiBTYWxlc293bmVyVGVycml0b3J5bGVhZEV4YW1wbGUgU3RyZWV0IDFDaXR5UmVnaW9uMTIzNDVERWVudGVycHJp',
  'c2UBY2FsbGVkIGFib3V0IHRoZSByZW5ld2FsCmN1c3QtMDAwMDAwMbur55ajNLur55ajNCsAhKR0eXBlp2NoYW5nZXOlZXBv',
  'Y2gBpWJhdGNoAqdlbnRyaWVzkYShb6Zub2RlLTChcwKhcqxjdXN0LTAwMDAwMDGhY8SOhW9KgzhRGK4BgwEBrr9MY6clDAPZ',
  'jaD5qQz6v/Kx9unprsJtZLTb5/d3fK8Pbm9kZS0wAISp5a1qKdylAjLFq+eWozQAAQEACgEEAgQVEzQBQgJWA1cJcAJxAnMD',
  'fwEAAX8EAAF+B3NlZ21lbnQJdXBkYXRlZEF0AgIBfjZkc21ixavnlqM0AgECAH4UHYSkdHlwZadjaGFuZ2VzpWVwb2NoAaVi',
  'YXRjaAOnZW50cmllc5GEoW+mbm9kZS0woXMDoXKsY3VzdC0wMDAwMDAxoWPEv4VvSoN9u3v4AbQBAThRGK6ShcmcnUaLEaKx',
  'rYJovl1rdlwlEqWg6tY5GfGqD25vZGUtMACEqeWtaincpQM0yKvnlqM0AAEBAAwBBAIEEQgTDBUNNANCBFYGVxpwBnECcwYt',
  'AQABLQMAARkAAAETAAABfxYYAX5SzQASAQABAC1/CXVwZGF0ZWRBdBkUARkDFQEZABQWf2Rmb2xsb3cgdXAgbmV4dCB3ZWVr',
  'Csir55ajNBkBFAB/ARoAfxYYAX8FhKR0eXBlp2NoYW5nZXOlZXBvY2gBpWJhdGNoBKdlbnRyaWVzkYShb6Zub2RlLTChcwSh',
  'cqxjdXN0LTAwMDAwMDGhY8SIhW9Kg1YwAbcBfgF9u3v4fSXzf+wePFKofX4TZt2Zd/QAPCDuAim0uRzKIA9ub2RlLTAAhKnl',
  'rWop3KUEYoqs55ajNAABAQAKAQQCBBUPNAFCAlYDVwdwA3ECcwN/AQABfwIAAX4DdmlwCXVwZGF0ZWRBdAICAX4UZAGKrOeW',
  'ozR+AAF/AH/hAISkdHlwZadjaGFuZ2VzpWVwb2NoAaViYXRjaAWnZW50cmllc5GEoW+mbm9kZS0woXMFoXKsY3VzdC0wMDAw',
  'MDAxoWPElIVvSoNIeEh3AYkBAVYwAbfhaYkkCqq8WKnni45oD0fJwFqv8Uz+Ybap6LlHD25vZGUtMACEqeWtaincpQVklqzn',
  'lqM0AAEBAAoBBAIEFRA0AUICVgRXEHACcQJzBH8BAAF/AQABfgRjaXR5CXVwZGF0ZWRBdAICAX6mAWRPdGhlciBDaXR5lqzn',
  'lqM0AgECAH4Q0wCEpHR5cGWnY2hhbmdlc6VlcG9jaAGlYmF0Y2gGp2VudHJpZXORhKFvpm5vZGUtMKFzBqFyrGN1c3QtMDAw',
  'MDAwMaFjxIeFb0qD3JQ52QF9AUh4SHcG8cXm8YbYq5UzR6s3RGcX0pJmAo+HBboH6S7pD25vZGUtMACEqeWtaincpQZmmqzn',
  'lqM0AAAIFRA0AUICVgRXEnACcQJzBH4EbmFtZQl1cGRhdGVkQXQCAgF+xgFkT3RoZXIgUGVyc29umqznlqM0AgECAH4H3gCE',
  'pHR5cGWnY2hhbmdlc6VlcG9jaAGlYmF0Y2gHp2VudHJpZXORhKFvpm5vZGUtMKFzB6FyrGN1c3QtMDAwMDAwMaFjxI6Fb0qD',
  'M5WpwAGDAQHclDnZRe8m0ZY/I3wpincNbCaZcdls3KKiI2e3GkA68g9ub2RlLTAAhKnlrWop3KUHaKKs55ajNAAACBURNAFC',
  'AlYEVxdwAnECcwR+BWVtYWlsCXVwZGF0ZWRBdAICAX6WAmRvdGhlckBleGFtcGxlLmNvbaKs55ajNAIBAgB+CN8AhKR0eXBl',
  'p2NoYW5nZXOlZXBvY2gBpWJhdGNoCKdlbnRyaWVzkYShb6Zub2RlLTChcwihcqxjdXN0LTAwMDAwMDGhY8SFhW9Kg8daFhMB',
  'ewEzlanAHVJBY3CTRFVVQMHlEN75oDE3RfvSmLOeSsSGVw9ub2RlLTAAhKnlrWop3KUIaqWs55ajNAAACBURNAFCAlYEVw9w',
  'AnECcwR+BXN0YWdlCXVwZGF0ZWRBdAICAX6WAWRxdWFsaWZpZWSlrOeWozQCAQIAfg7bAISkdHlwZadjaGFuZ2VzpWVwb2No',
  'AaViYXRjaAmnZW50cmllc5GEoW+mbm9kZS0woXMJoXKsY3VzdC0wMDAwMDAxoWPEhIVvSoN8UQ3yAXoBx1oWE34ieTDPyvAg',
  'Wh+285076sS9TwdM6fTwGzZLZoAPbm9kZS0wAISp5a1qKdylCWy+rOeWozQAAAgVFTQBQgJWA1cLcAJxAnMEfgl0ZXJyaXRv',
  'cnkJdXBkYXRlZEF0AgIBflZkT3RoZXK+rOeWozQCAQIAfg3eAISkdHlwZadjaGFuZ2VzpWVwb2NoAaViYXRjaAqnZW50cmll',
  'c5GEoW+mbm9kZS0woXMKoXKsY3VzdC0wMDAwMDAxoWPEgIVvSoMCjBCUAXYBfFEN8s8U2OS1QeMzADM+TFh0CzED/JQaeQi4',
  'x0vfvEMPbm9kZS0wAISp5a1qKdylCm7BrOeWozQAAAgVETQBQgJWA1cLcAJxAnMEfgVvd25lcgl1cGRhdGVkQXQCAgF+VmRv',
  'dGhlcsGs55ajNAIBAgB+DOEAhKR0eXBlp2NoYW5nZXOlZXBvY2gBpWJhdGNoC6dlbnRyaWVzkYShb6Zub2RlLTChcwuhcqxj',
  'dXN0LTAwMDAwMDGhY8SLhW9Kg1fX5FQBgAEBAowQlEhQrVkoPL2MuFTZyVws/8YNpIbePt9+HbQsTdUPbm9kZS0wAISp5a1q',
  'KdylC3DGrOeWozQAAAgVETQBQgJWBFcUcAJxAnMEfgVwaG9uZQl1cGRhdGVkQXQCAgF+5gFkKzQ5IDMwIDc2NTQzMjHGrOeW',
  'ozQCAQIAfgnmAISkdHlwZadjaGFuZ2VzpWVwb2NoAaViYXRjaAynZW50cmllc5GEoW+mbm9kZS0woXMMoXKsY3VzdC0wMDAw',
  'MDAxoWPEj4VvSoNsNr32AYQBAVfX5FQbzbwbR/14vGdCl8/gatbGh+Zu9CFFJpQUGTQlD25vZGUtMACEqeWtaincpQxyx6zn',
  'lqM0AAAIFRM0AUICVgRXFnACcQJzBH4HY29tcGFueQl1cGRhdGVkQXQCAgF+hgJkT3RoZXIgQ29tcGFueSBBR8es55ajNAIB',
  'AgB+CucAhKR0eXBlp2NoYW5nZXOlZXBvY2gBpWJhdGNoDadlbnRyaWVzkYShb6Zub2RlLTChcw2hcqxjdXN0LTAwMDAwMDGh',
  'Y8SPhW9Kg3dbktMBhAEBbDa99uvf+V6J8gwDZ9KKWOmtieQEaNFheIfs9MPpyqMPbm9kZS0wAISp5a1qKdylDXTJrOeWozQA',
  'AAgVETQBQgJWBFcYcAJxAnMEfgV0aXRsZQl1cGRhdGVkQXQCAgF+pgJkSGVhZCBvZiBQdXJjaGFzaW5nyaznlqM0AgECAH4L',
  '6ACDpHR5cGWjYWNrpWJhdGNoDaVjbG9ja5GTpm5vZGUtMA3EII2qpL+sYsZSPbVSWbFVyjTLt9xgoJuymHQrR30eSIX7hKR0',
  'eXBlp2NoYW5nZXOlZXBvY2gBpWJhdGNoDadlbnRyaWVzkYahb6Zub2RlLTChcw2hcqxjdXN0LTAwMDAwMDGhY8SPhW9Kg3db',
  'ktMBhAEBbDa99uvf+V6J8gwDZ9KKWOmtieQEaNFheIfs9MPpyqMPbm9kZS0wAISp5a1qKdylDXTJrOeWozQAAAgVETQBQgJW',
  'BFcYcAJxAnMEfgV0aXRsZQl1cGRhdGVkQXQCAgF+pgJkSGVhZCBvZiBQdXJjaGFzaW5nyaznlqM0AgECAH4L6AChZ8RA2Fh9',
  'sD7gtIIupVLXW65C9WtX9iUARxWsIDbv8Ic7kv1hWmr0Vz7ZN2RWSs99han6RfNudepwH3lNM0lTulvKC6FwxCCNqqS/rGLG',
  'Uj21UlmxVco0y7fcYKCbsph0K0d9HkiF+w==',
].join('');

/** The example frames, decoded once. */
export const FRAME_DICTIONARY_1: Uint8Array = Buffer.from(BASE64, 'base64');

/**
 * The dictionary of one session: the example frames, then both node ids (each frame names
 * its origin, and its changes' actor ids begin with the node id), the smaller id first so
 * that both ends build the same bytes.
 */
export function sessionDictionary(a: NodeId, b: NodeId): Uint8Array {
  const [first, second] = a < b ? [a, b] : [b, a];
  return Buffer.concat([FRAME_DICTIONARY_1, Buffer.from(first, 'utf8'), Buffer.from(second, 'utf8')]);
}
