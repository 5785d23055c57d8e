// Dynamic int8 quantisation of an exported model.onnx, written in TypeScript on the protobuf wire format (no onnx
// package): every MatMul of the encoder whose weight is a 2-D float initializer becomes onnxruntime's
// DynamicQuantizeMatMul (com.microsoft) with per-column symmetric int8 weights; activations are quantised at run
// time. Embeddings, LayerNorm, the head and everything else stay fp32. Unknown fields are copied through untouched.

/** One protobuf field as read: its number, wire type and value (varint/fixed as bigint, length-delimited as bytes). */
interface Field {
  num: number;
  wire: number;
  value: bigint | Uint8Array;
}

function readVarint(b: Uint8Array, at: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    const byte = b[at++];
    if (byte === undefined) throw new Error('truncated protobuf varint');
    v |= BigInt(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return [v, at];
    shift += 7n;
  }
}

/** The fields of one message, in order. */
function decode(b: Uint8Array): Field[] {
  const out: Field[] = [];
  let at = 0;
  while (at < b.length) {
    const [key, next] = readVarint(b, at);
    at = next;
    const num = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      const [v, n] = readVarint(b, at);
      out.push({ num, wire, value: v });
      at = n;
    } else if (wire === 1) {
      out.push({ num, wire, value: b.subarray(at, at + 8) });
      at += 8;
    } else if (wire === 5) {
      out.push({ num, wire, value: b.subarray(at, at + 4) });
      at += 4;
    } else if (wire === 2) {
      const [len, n] = readVarint(b, at);
      out.push({ num, wire, value: b.subarray(n, n + Number(len)) });
      at = n + Number(len);
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

function varint(v: bigint): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(64, v);
  do {
    let byte = Number(x & 0x7fn);
    x >>= 7n;
    if (x) byte |= 0x80;
    out.push(byte);
  } while (x);
  return out;
}

/** Encodes fields back into one message (bytes are referenced, not copied, until the final concatenation). */
function encode(fields: Field[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const f of fields) {
    const head = Uint8Array.from(varint(BigInt((f.num << 3) | f.wire)));
    parts.push(head);
    size += head.length;
    if (f.wire === 0) {
      const v = Uint8Array.from(varint(f.value as bigint));
      parts.push(v);
      size += v.length;
    } else {
      const bytes = f.value as Uint8Array;
      if (f.wire === 2) {
        const len = Uint8Array.from(varint(BigInt(bytes.length)));
        parts.push(len);
        size += len.length;
      }
      parts.push(bytes);
      size += bytes.length;
    }
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const text = (f: Field) => new TextDecoder().decode(f.value as Uint8Array);
const str = (num: number, s: string): Field => ({ num, wire: 2, value: new TextEncoder().encode(s) });
const int = (num: number, v: number): Field => ({ num, wire: 0, value: BigInt(v) });
const msg = (num: number, fields: Field[]): Field => ({ num, wire: 2, value: encode(fields) });

// ONNX field numbers (onnx.proto): ModelProto.graph 7, opset_import 8; GraphProto.node 1, initializer 5;
// NodeProto input 1, output 2, name 3, op_type 4, domain 7; TensorProto dims 1, data_type 2, float_data 4,
// name 8, raw_data 9.
const FLOAT = 1;
const INT8 = 3;

/** A float initializer's name, dims and values (raw_data or float_data). */
function floatTensor(fields: Field[]): { name: string; dims: number[]; data: Float32Array } | null {
  let name = '';
  const dims: number[] = [];
  let type = 0;
  let raw: Uint8Array | null = null;
  for (const f of fields) {
    if (f.num === 8) name = text(f);
    else if (f.num === 2) type = Number(f.value);
    else if (f.num === 1 && f.wire === 0) dims.push(Number(f.value));
    else if (f.num === 1 && f.wire === 2) {
      let at = 0;
      const b = f.value as Uint8Array;
      while (at < b.length) {
        const [v, n] = readVarint(b, at);
        dims.push(Number(v));
        at = n;
      }
    } else if (f.num === 9 || (f.num === 4 && f.wire === 2)) raw = f.value as Uint8Array;
  }
  if (type !== FLOAT || !raw || raw.length % 4 !== 0) return null;
  return { name, dims, data: new Float32Array(raw.slice().buffer) };
}

function tensor(t: { name: string; type: number; dims: number[]; raw: Uint8Array }): Field[] {
  return [...t.dims.map((d) => int(1, d)), int(2, t.type), str(8, t.name), { num: 9, wire: 2, value: t.raw }];
}

/** Per-column symmetric int8 weights of a [K, N] matrix: values and one scale per column. */
function quantizeColumns(w: Float32Array, [k, n]: number[]): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(n);
  for (let r = 0; r < k; r++)
    for (let c = 0; c < n; c++) scale[c] = Math.max(scale[c], Math.abs(w[r * n + c]));
  for (let c = 0; c < n; c++) scale[c] = scale[c] / 127 || 1;
  const q = new Int8Array(k * n);
  for (let r = 0; r < k; r++)
    for (let c = 0; c < n; c++)
      q[r * n + c] = Math.max(-127, Math.min(127, Math.round(w[r * n + c] / scale[c])));
  return { q, scale };
}

/**
 * The int8 version of an exported model (bytes of model.onnx in, bytes out) and how many MatMuls were quantised.
 * Only nodes whose name contains `/encoder/` are touched: the encoder's linear layers, as the issue asks.
 */
export function quantizeOnnxInt8(model: Uint8Array): { bytes: Uint8Array; quantized: number } {
  // A plain view, not a Buffer: a Buffer's slice() shares memory, and the float copies below need their own.
  const top = decode(new Uint8Array(model.buffer, model.byteOffset, model.byteLength));
  const gi = top.findIndex((f) => f.num === 7);
  if (gi < 0) throw new Error('not an ONNX model (no graph)');
  const graph = decode(top[gi].value as Uint8Array);
  const inits = new Map<string, { index: number; fields: Field[] }>();
  graph.forEach((f, index) => {
    if (f.num !== 5) return;
    const fields = decode(f.value as Uint8Array);
    const name = fields.find((x) => x.num === 8);
    if (name) inits.set(text(name), { index, fields });
  });
  const uses = new Map<string, number>();
  for (const f of graph)
    if (f.num === 1)
      for (const x of decode(f.value as Uint8Array))
        if (x.num === 1) uses.set(text(x), (uses.get(text(x)) ?? 0) + 1);
  const drop = new Set<number>();
  const added: Field[] = [];
  let quantized = 0;
  const out = graph
    .map((f) => {
      if (f.num !== 1) return f;
      const node = decode(f.value as Uint8Array);
      const op = node.find((x) => x.num === 4);
      const name = node.find((x) => x.num === 3);
      const inputs = node.filter((x) => x.num === 1).map(text);
      if (!op || text(op) !== 'MatMul' || !name || !text(name).includes('/encoder/') || inputs.length !== 2)
        return f;
      const init = inits.get(inputs[1]);
      const w = init && uses.get(inputs[1]) === 1 ? floatTensor(init.fields) : null;
      if (!w || w.dims.length !== 2) return f;
      const [k, n] = w.dims;
      const { q, scale } = quantizeColumns(w.data, w.dims);
      const base = inputs[1];
      added.push(
        msg(5, tensor({ name: `${base}_int8`, type: INT8, dims: [k, n], raw: new Uint8Array(q.buffer) })),
        msg(5, tensor({ name: `${base}_scale`, type: FLOAT, dims: [n], raw: new Uint8Array(scale.buffer) })),
        msg(5, tensor({ name: `${base}_zero`, type: INT8, dims: [n], raw: new Uint8Array(n) })),
      );
      drop.add(init!.index);
      quantized++;
      const outputs = node.filter((x) => x.num === 2);
      return msg(1, [
        str(1, inputs[0]),
        str(1, `${base}_int8`),
        str(1, `${base}_scale`),
        str(1, `${base}_zero`),
        ...outputs,
        str(3, `${text(name)}_int8`),
        str(4, 'DynamicQuantizeMatMul'),
        str(7, 'com.microsoft'),
      ]);
    })
    .filter((_, i) => !drop.has(i));
  const firstInit = out.findIndex((f) => f.num === 5);
  out.splice(firstInit < 0 ? out.length : firstInit, 0, ...added);
  const newTop = top.map((f, i) => (i === gi ? { ...f, value: encode(out) } : f));
  const ms = newTop.findIndex((f) => f.num === 8);
  newTop.splice(ms < 0 ? newTop.length : ms, 0, msg(8, [str(1, 'com.microsoft'), int(2, 1)]));
  return { bytes: encode(newTop), quantized };
}
