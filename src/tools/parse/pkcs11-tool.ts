import { ParseError } from '../../errors.js';

/** One object as `pkcs11-tool --list-objects` or `--keypairgen` prints it. */
export interface Pkcs11ToolObject {
  /** "Private Key", "Public Key", "Certificate", "Data", "Secret Key". */
  readonly kind: string;
  /** The text after `Object;` on the header line, e.g. "EC", "RSA", "EC  EC_POINT 384 bits". */
  readonly detail: string;
  readonly label: string | undefined;
  /** Lower-case hex; undefined when the object has no CKA_ID (keypairgen without --id). */
  readonly idHex: string | undefined;
  /** The object's RFC 7512 URI, which OpenSC prints from 0.26 on. */
  readonly uri: string | undefined;
  readonly attributes: Readonly<Record<string, string>>;
}

const OBJECT_HEADER = /^(Private Key|Public Key|Certificate|Secret Key|Data|Profile) Object;?\s*(.*?)\s*$/i;
const ATTRIBUTE = /^\s+([A-Za-z][A-Za-z0-9_ /]*?)\s*:\s*(.*?)\s*$/;
// OpenSC 0.27 wraps a long EC point or RSA modulus onto further lines of bare hex, indented under the value.
const CONTINUATION = /^\s{4,}([0-9A-Fa-f:]+)\s*$/;
// OpenSC 0.27 prints an id of up to 8 bytes as its number and bytes, "5 (0x05)" or "662316 (0x0a:1b:2c)";
// earlier releases "05" or "0a1b2c", longer ids "e016…" or "e0:16:…".
const SHORT_ID = /^\d+ \(0x([0-9A-Fa-f:]+)\)$/;
// stderr chatter that may be captured together with stdout.
const NOISE = /^(Using slot .*|Key pair generated:|Logging in to .*|Please enter User PIN:.*)$/;

function idHex(printed: string | undefined): string | undefined {
  if (!printed) return undefined;
  return (SHORT_ID.exec(printed)?.[1] ?? printed).replace(/:/g, '').toLowerCase();
}

function toObject(kind: string, detail: string, attributes: Record<string, string>): Pkcs11ToolObject {
  return { kind, detail, label: attributes['label'], idHex: idHex(attributes['ID']), uri: attributes['uri'], attributes };
}

/** Parses the object listing of `pkcs11-tool -O` (and the objects after "Key pair generated:"). */
export function parseObjects(text: string): Pkcs11ToolObject[] {
  const objects: Pkcs11ToolObject[] = [];
  let current: { kind: string; detail: string; attributes: Record<string, string> } | undefined;
  let lastName: string | undefined;
  const flush = (): void => {
    if (current) objects.push(toObject(current.kind, current.detail, current.attributes));
    current = undefined;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '' || NOISE.test(line.trim())) continue;
    // A data object's heading, "Data object 1", matches too: kind Data, detail its number.
    const header = OBJECT_HEADER.exec(line);
    if (header) {
      flush();
      current = { kind: header[1]!, detail: header[2]!, attributes: {} };
      lastName = undefined;
      continue;
    }
    const continuation = CONTINUATION.exec(line);
    if (continuation && current && lastName !== undefined) {
      current.attributes[lastName] += continuation[1]!;
      continue;
    }
    const attribute = ATTRIBUTE.exec(line);
    if (attribute && current) {
      lastName = attribute[1]!;
      current.attributes[lastName] = attribute[2]!;
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
  const privateKey = objects.find((o) => o.kind.toLowerCase() === 'private key');
  const publicKey = objects.find((o) => o.kind.toLowerCase() === 'public key');
  if (!privateKey || !publicKey || objects.length !== 2) {
    throw new ParseError('pkcs11-tool --keypairgen output (expected one private and one public key object)', text);
  }
  return { privateKey, publicKey };
}

/** A slot holding an initialised token, as `pkcs11-tool --list-token-slots` (or `--list-slots`) prints it. */
export interface Pkcs11ToolTokenSlot {
  readonly tokenLabel: string;
  /** The "token flags" line split at commas, e.g. "login required", "user PIN count low", "other flags=0x40". */
  readonly flags: readonly string[];
}

/** Parses `pkcs11-tool -T` / `-L`; slots without an initialised token (no "token label") are left out. */
export function parseTokenSlots(text: string): Pkcs11ToolTokenSlot[] {
  const slots: Array<Record<string, string>> = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || /^Available slots:$|^No slots\.?$|^\(empty\)$/.test(trimmed)) continue;
    if (/^Slot \d+ \(0x[0-9a-f]+\):/i.test(line)) {
      slots.push({});
      continue;
    }
    const field = /^\s+([a-z][a-z /]*?)\s*:\s*(.*?)\s*$/i.exec(line);
    const last = slots.at(-1);
    if (field && last) {
      last[field[1]!] = field[2]!;
      continue;
    }
    throw new ParseError(`pkcs11-tool's slot list (unexpected line "${line}")`, text);
  }
  return slots
    .filter((fields) => fields['token label'] !== undefined)
    .map((fields) => ({ tokenLabel: fields['token label']!, flags: (fields['token flags'] ?? '').split(',').map((f) => f.trim()).filter(Boolean) }));
}
