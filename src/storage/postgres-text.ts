/**
 * PostgreSQL's text and jsonb cannot hold the NUL character (`invalid byte sequence for encoding
 * "UTF8": 0x00`, `unsupported Unicode escape sequence`), which JSON and HTTP let clients send
 * (`"user": "a\u0000b"`, a tag, a key's name). Such a value would fail its whole batch of request
 * log and spend rows, again on every retry. So every string sent to PostgreSQL has its NULs replaced
 * by U+FFFD, the replacement character: the row is kept, and a lookup by such a value (replaced
 * alike) finds it instead of failing. SQLite stores NUL as it is, so this is for PostgreSQL only.
 */
import { OperationNodeTransformer, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type PrimitiveValueListNode, type QueryResult, type RootOperationNode, type UnknownRow, type ValueNode } from 'kysely';

const NUL = '\u0000';
const REPLACEMENT = '\uFFFD';

/** `value` with its NUL characters replaced; the same string when it has none. */
export function withoutNul(value: string): string {
  return value.includes(NUL) ? value.replaceAll(NUL, REPLACEMENT) : value;
}

/**
 * A JSON escape of NUL or of a surrogate (`\u0000`, `\ud800`) preceded by an even number of
 * backslashes (an odd number makes it literal text). JSON.stringify escapes a surrogate only when
 * it is alone, and jsonb refuses those too ("Unicode low surrogate must follow a high surrogate").
 */
const JSONB_REFUSED_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/g;

/** JSON text from JSON.stringify with the escapes jsonb refuses (NUL, a lone surrogate) replaced by U+FFFD's. */
export function jsonForJsonb(json: string): string {
  return json.includes('\\u0000') || json.includes('\\ud') ? json.replace(JSONB_REFUSED_ESCAPE, '$1\\ufffd') : json;
}

class NulReplacer extends OperationNodeTransformer {
  protected override transformValue(node: ValueNode): ValueNode {
    const value: unknown = node.value;
    return typeof value === 'string' && value.includes(NUL) ? { ...node, value: withoutNul(value) } : node;
  }

  protected override transformPrimitiveValueList(node: PrimitiveValueListNode): PrimitiveValueListNode {
    if (!node.values.some((value) => typeof value === 'string' && value.includes(NUL))) return node;
    return { ...node, values: node.values.map((value) => (typeof value === 'string' ? withoutNul(value) : value)) };
  }
}

/** The Kysely plugin that keeps NUL out of every query's parameters (see the file comment). */
export class PostgresTextPlugin implements KyselyPlugin {
  readonly #replacer = new NulReplacer();

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.#replacer.transformNode(args.node);
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}
