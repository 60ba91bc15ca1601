/** An MQTT variable byte integer (a packet's remaining length): 7 bits a byte, the high bit = more. */
export function varByteInt(n: number): number[] {
  const out: number[] = [];
  do {
    let digit = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) digit |= 0x80;
    out.push(digit);
  } while (n > 0);
  return out;
}
