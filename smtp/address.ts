/**
 * Extract the addr-specs of an RFC 5322 address list: display names,
 * comments and group names are dropped, quoted local parts kept, source
 * routes removed. `Ann <ann@x.test>, "Doe, J" <j@x.test>, team: b@x.test;`
 * gives `["ann@x.test", "j@x.test", "b@x.test"]`.
 *
 * @example
 * ```ts
 * import { parseAddressList } from "@mailwire/mailwire/smtp";
 * console.log(parseAddressList('"Doe, J" <j@x.test>, ann@x.test'));
 * // ["j@x.test", "ann@x.test"]
 * ```
 */
export function parseAddressList(input: string): string[] {
  const out: string[] = [];
  let bare = "";
  let angle: string | null = null;
  let inAngle = false;
  const flush = () => {
    let addr = angle ?? bare.trim();
    if (angle !== null && addr.startsWith("@") && addr.includes(":")) {
      addr = addr.slice(addr.indexOf(":") + 1);
    }
    addr = addr.trim();
    if (addr) out.push(addr);
    bare = "";
    angle = null;
    inAngle = false;
  };
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c === '"') {
      let j = i + 1;
      let q = '"';
      for (; j < input.length && input[j] !== '"'; j++) {
        if (input[j] === "\\" && j + 1 < input.length) q += input[j++];
        q += input[j];
      }
      q += '"';
      i = j;
      if (inAngle) angle += q;
      else bare += q;
    } else if (c === "(" && !inAngle) {
      let depth = 1;
      for (i++; i < input.length && depth > 0; i++) {
        if (input[i] === "\\") i++;
        else if (input[i] === "(") depth++;
        else if (input[i] === ")") depth--;
      }
      i--;
    } else if (c === "<" && !inAngle) {
      inAngle = true;
      angle = "";
    } else if (c === ">" && inAngle) {
      inAngle = false;
    } else if (inAngle) {
      angle += c;
    } else if (c === ":") {
      bare = ""; // a group's display name
    } else if (c === "," || c === ";") {
      flush();
    } else {
      bare += c;
    }
  }
  flush();
  return out;
}
