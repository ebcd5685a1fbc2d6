// A minimal XML reader for XML-RPC bodies: elements and text only. It refuses DOCTYPE and every
// other `<!` declaration (no entity expansion attacks), bounds nesting depth so a hostile body
// cannot exhaust the stack of the recursive interpreter in xml.ts, and is iterative itself.
import { MalformedRequest } from './errors.js';

export interface XmlEl {
  readonly name: string;
  /** Child elements and decoded text; adjacent text, CDATA and entity pieces are merged. */
  readonly kids: (XmlEl | string)[];
}

/** Deepest element nesting accepted; real XML-RPC bodies stay well below 20. */
export const XML_DEPTH_MAX = 64;

function fail(why: string): never {
  throw new MalformedRequest(why);
}

const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

function entity(ref: string): string {
  const named = NAMED[ref];
  if (named !== undefined) return named;
  let cp = NaN;
  if (/^#[0-9]{1,7}$/.test(ref)) cp = parseInt(ref.slice(1), 10);
  else if (/^#x[0-9a-fA-F]{1,6}$/.test(ref)) cp = parseInt(ref.slice(2), 16);
  if (!isXmlChar(cp)) fail(`bad entity &${ref};`);
  return String.fromCodePoint(cp);
}

/** Raw character data: XML end-of-line normalisation, then entity references. */
function decodeText(raw: string): string {
  const s = raw.includes('\r') ? raw.replace(/\r\n?/g, '\n') : raw;
  let amp = s.indexOf('&');
  if (amp < 0) return s;
  let out = '';
  let from = 0;
  while (amp >= 0) {
    const semi = s.indexOf(';', amp);
    if (semi < 0 || semi - amp > 10) fail('bad entity reference');
    out += s.slice(from, amp) + entity(s.slice(amp + 1, semi));
    from = semi + 1;
    amp = s.indexOf('&', from);
  }
  return out + s.slice(from);
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_.:]*/y;
const ATTR = /[ \t\r\n]+([A-Za-z_:][-A-Za-z0-9_.:]*)[ \t\r\n]*=[ \t\r\n]*(?:"[^"<]*"|'[^'<]*')/y;
const SPACE = /[ \t\r\n]*/y;

class Reader {
  private i = 0;
  private readonly stack: XmlEl[] = [];
  private root: XmlEl | undefined;

  constructor(private readonly src: string) {
    if (src.charCodeAt(0) === 0xfeff) this.i = 1;
  }

  read(): XmlEl {
    const { src } = this;
    while (this.i < src.length) {
      const lt = src.indexOf('<', this.i);
      const end = lt < 0 ? src.length : lt;
      if (end > this.i) this.text(decodeText(src.slice(this.i, end)));
      if (lt < 0) break;
      this.i = lt;
      this.markup();
    }
    if (this.stack.length > 0) fail(`unclosed <${this.stack[this.stack.length - 1]?.name}>`);
    if (this.root === undefined) fail('no root element');
    return this.root;
  }

  private text(s: string): void {
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) {
      if (!/^[ \t\n]*$/.test(s)) fail('text outside the root element');
      return;
    }
    const last = top.kids.length - 1;
    const prev = top.kids[last];
    if (typeof prev === 'string') top.kids[last] = prev + s;
    else top.kids.push(s);
  }

  private skipPast(close: string, what: string): number {
    const e = this.src.indexOf(close, this.i);
    if (e < 0) fail(`unterminated ${what}`);
    this.i = e + close.length;
    return e;
  }

  private markup(): void {
    const { src } = this;
    if (src.startsWith('<!--', this.i)) {
      this.skipPast('-->', 'comment');
    } else if (src.startsWith('<![CDATA[', this.i)) {
      if (this.stack.length === 0) fail('CDATA outside the root element');
      const start = this.i + 9;
      const e = this.skipPast(']]>', 'CDATA section');
      this.text(src.slice(start, e).replace(/\r\n?/g, '\n'));
    } else if (src.startsWith('<!', this.i)) {
      // DOCTYPE, ENTITY and friends: refused outright rather than half-implemented.
      fail('DOCTYPE and markup declarations are not accepted');
    } else if (src.startsWith('<?', this.i)) {
      this.skipPast('?>', 'processing instruction');
    } else if (src.startsWith('</', this.i)) {
      this.closeTag();
    } else {
      this.openTag();
    }
  }

  private name(): string {
    NAME.lastIndex = this.i;
    const m = NAME.exec(this.src);
    if (m === null) fail('bad element name');
    this.i = NAME.lastIndex;
    return m[0];
  }

  private space(): void {
    SPACE.lastIndex = this.i;
    SPACE.exec(this.src);
    this.i = SPACE.lastIndex;
  }

  private closeTag(): void {
    this.i += 2;
    const name = this.name();
    this.space();
    if (this.src[this.i] !== '>') fail(`bad closing tag </${name}`);
    this.i += 1;
    const el = this.stack.pop();
    if (el === undefined || el.name !== name) fail(`</${name}> does not close <${el?.name ?? ''}>`);
    if (this.stack.length === 0) this.root = el;
  }

  private openTag(): void {
    this.i += 1;
    const name = this.name();
    // Attributes carry nothing in XML-RPC; they are checked for syntax and ignored.
    for (;;) {
      ATTR.lastIndex = this.i;
      if (ATTR.exec(this.src) === null) break;
      this.i = ATTR.lastIndex;
    }
    this.space();
    const selfClosing = this.src.startsWith('/>', this.i);
    if (!selfClosing && this.src[this.i] !== '>') fail(`bad tag <${name}`);
    this.i += selfClosing ? 2 : 1;
    if (this.root !== undefined) fail('content after the root element');
    if (this.stack.length >= XML_DEPTH_MAX) fail(`nesting deeper than ${XML_DEPTH_MAX}`);
    const el: XmlEl = { name, kids: [] };
    this.stack[this.stack.length - 1]?.kids.push(el);
    if (!selfClosing) this.stack.push(el);
    else if (this.stack.length === 0) this.root = el;
  }
}

/** Parses a whole document into its root element; throws MalformedRequest on anything invalid. */
export function parseXmlTree(src: string): XmlEl {
  return new Reader(src).read();
}
