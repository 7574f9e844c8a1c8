/** JSON as Python writes and reads it; expected texts printed by CPython 3.11 (`repr(x)`, `json.dumps(obj)`). */
import { PyFloat, pyFloatRepr, pyJsonDumps, pyJsonLoads } from './python-json.js';

describe('Python JSON', () => {
  it('writes floats as repr(float) does', () => {
    const xs = [0, -0, 1, -2, 0.1, 1e-5, 0.0001, 0.00012345, 1e16, 1e15, 123456789012345.6, 1.5e16, 1e-7, 5e-324, 1.7976931348623157e308, 1 / 3, -1e100, 2.5e-10, 100, 12345.678];
    const py = ['0.0', '-0.0', '1.0', '-2.0', '0.1', '1e-05', '0.0001', '0.00012345', '1e+16', '1000000000000000.0', '123456789012345.6', '1.5e+16', '1e-07', '5e-324', '1.7976931348623157e+308', '0.3333333333333333', '-1e+100', '2.5e-10', '100.0', '12345.678'];
    expect(xs.map(pyFloatRepr)).toEqual(py);
    for (const x of xs) expect(Number(pyFloatRepr(x))).toBe(x);
  });

  it('writes what json.dumps writes: separators, ensure_ascii, NaN and infinities as bare tokens', () => {
    const obj = { a: [1, new PyFloat(2), NaN, Infinity, -Infinity], é: 'ü\u2028\u007f\n"\\', n: null, t: true, skipped: undefined };
    expect(pyJsonDumps(obj)).toBe('{"a": [1, 2.0, NaN, Infinity, -Infinity], "\\u00e9": "\\u00fc\\u2028\\u007f\\n\\"\\\\", "n": null, "t": true}');
  });

  it('reads Python\'s tokens, in any position, and leaves them alone inside strings', () => {
    expect(pyJsonLoads('{"v": NaN, "w": [Infinity, -Infinity, 1e-05], "s": "NaN Infinity"}')).toEqual({ v: NaN, w: [Infinity, -Infinity, 1e-5], s: 'NaN Infinity' });
    expect(pyJsonLoads('{"s": "Infinity \\" NaN"}')).toEqual({ s: 'Infinity " NaN' });
    const proto = pyJsonLoads('{"__proto__": {"x": NaN}}') as object;
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype); // a key, as JSON.parse keeps it
    expect(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value).toEqual({ x: NaN });
    for (const bad of ['{"v": nan}', '{"v": NaN', '{"v": NaN} x', '[Infinity,]']) expect(() => pyJsonLoads(bad)).toThrow(SyntaxError);
  });

  it('round-trips', () => {
    const v = { op_code: 7, worker_id: 'w', trial_id: 3, step: 2, intermediate_value: new PyFloat(-Infinity), nested: { list: [new PyFloat(0.5), 'é', false] } };
    expect(pyJsonLoads(pyJsonDumps(v))).toEqual({ op_code: 7, worker_id: 'w', trial_id: 3, step: 2, intermediate_value: -Infinity, nested: { list: [0.5, 'é', false] } });
  });
});
