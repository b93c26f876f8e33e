import { ParseError } from '../../errors.js';

/** One object as `pkcs11-tool --list-objects` or `--keypairgen` prints it. */
export interface Pkcs11ToolObject {
  /** "Private Key", "Public Key", "Certificate", "Data", "Secret Key". */
  readonly kind: string;
  /** The text after `Object;` on the header line, e.g. "EC", "RSA", "EC  EC_POINT 384 bits". */
  readonly detail: string;
  readonly label: string | undefined;
  /** Lower-case hex, as printed; undefined when the object has no CKA_ID (keypairgen without --id). */
  readonly idHex: string | undefined;
  readonly attributes: Readonly<Record<string, string>>;
}

const OBJECT_HEADER = /^(Private Key|Public Key|Certificate|Secret Key|Data|Profile) Object;?\s*(.*?)\s*$/i;
const DATA_HEADER = /^Data object \d+/i;
const ATTRIBUTE = /^\s+([A-Za-z][A-Za-z0-9_ /]*?)\s*:\s*(.*?)\s*$/;
// stderr chatter that may be captured together with stdout.
const NOISE = /^(Using slot .*|Key pair generated:|Logging in to .*|Please enter User PIN:.*)$/;

function toObject(kind: string, detail: string, attributes: Record<string, string>): Pkcs11ToolObject {
  const id = attributes['ID'];
  return { kind, detail, label: attributes['label'], idHex: id ? id.replace(/:/g, '').toLowerCase() : undefined, attributes };
}

/** Parses the object listing of `pkcs11-tool -O` (and the objects after "Key pair generated:"). */
export function parseObjects(text: string): Pkcs11ToolObject[] {
  const objects: Pkcs11ToolObject[] = [];
  let current: { kind: string; detail: string; attributes: Record<string, string> } | undefined;
  const flush = (): void => {
    if (current) objects.push(toObject(current.kind, current.detail, current.attributes));
    current = undefined;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '' || NOISE.test(line.trim())) continue;
    const header = OBJECT_HEADER.exec(line) ?? (DATA_HEADER.test(line) ? [line, 'Data', ''] : null);
    if (header) {
      flush();
      current = { kind: header[1]!, detail: header[2] ?? '', attributes: {} };
      continue;
    }
    const attribute = ATTRIBUTE.exec(line);
    if (attribute && current) {
      current.attributes[attribute[1]!] = attribute[2]!;
      continue;
    }
    throw new ParseError(`pkcs11-tool's object list (unexpected line "${line}")`, text);
  }
  flush();
  return objects;
}

/** Parses `pkcs11-tool --keypairgen` output: exactly one private and one public key object. */
export function parseKeyPairGenerated(text: string): { privateKey: Pkcs11ToolObject; publicKey: Pkcs11ToolObject } {
  if (!/^Key pair generated:/m.test(text)) throw new ParseError('pkcs11-tool --keypairgen output (no "Key pair generated:")', text);
  const objects = parseObjects(text);
  const privateKey = objects.find((o) => /^private key$/i.test(o.kind));
  const publicKey = objects.find((o) => /^public key$/i.test(o.kind));
  if (!privateKey || !publicKey || objects.length !== 2) {
    throw new ParseError('pkcs11-tool --keypairgen output (expected one private and one public key object)', text);
  }
  return { privateKey, publicKey };
}
