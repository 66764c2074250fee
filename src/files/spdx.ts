/**
 * SPDX license expressions (SPDX 2.3, Annex D), shape only: `MIT`, `Apache-2.0 OR MIT`,
 * `GPL-2.0-or-later WITH Classpath-exception-2.0`, `(MIT AND BSD-3-Clause) OR LicenseRef-foo`.
 *
 * Identifiers are not checked against the SPDX list: that list grows every few months and a
 * mirror must accept whatever crates.io and npm accepted. What is checked is the grammar, which
 * catches the real mistakes — `MIT/Apache-2.0` (old crates.io syntax), lowercase `or`, a dangling
 * operator, unbalanced parentheses.
 *
 *   expression  = and-expr *( "OR" and-expr )
 *   and-expr    = with-expr *( "AND" with-expr )
 *   with-expr   = simple [ "WITH" idstring ] | "(" expression ")"
 *   simple      = idstring [ "+" ] | [ "DocumentRef-" idstring ":" ] "LicenseRef-" idstring
 *   idstring    = 1*( ALPHA / DIGIT / "-" / "." )
 *
 * AND binds tighter than OR, as in the spec.
 */
import { quoteValue } from "./name";

export type SpdxExpression =
  | SpdxLicense
  | { kind: "and"; left: SpdxExpression; right: SpdxExpression }
  | { kind: "or"; left: SpdxExpression; right: SpdxExpression };

/** One license: a listed id (`GPL-2.0+`) or a `LicenseRef-`, optionally `WITH` an exception. */
export type SpdxLicense =
  | { kind: "license"; id: string; orLater: boolean; exception: string | null }
  | { kind: "ref"; document: string | null; ref: string; exception: string | null };

/** A problem in an expression: what is wrong, and a suggestion when there is an obvious one. */
export interface SpdxProblem {
  problem: string;
  hint: string;
}

const IDSTRING = /^[A-Za-z0-9.-]+$/;
const OPERATORS = ["AND", "OR", "WITH"];

class SpdxSyntax extends Error {
  constructor(
    readonly problem: string,
    readonly hint: string,
  ) {
    super(problem);
  }
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /\s*([()]|[^\s()]+)/gy;
  let match: RegExpExecArray | null;
  while ((match = re.exec(text)) !== null) tokens.push(match[1]);
  return tokens;
}

/**
 * Parses an SPDX license expression into its tree.
 * @returns the tree, or a {@link SpdxProblem} — invalid input is data here, not an exception,
 *   because the caller (the manifest reader) wraps it in its own located error.
 */
export function parseSpdxExpression(text: string): SpdxExpression | SpdxProblem {
  const generic = "use an SPDX expression such as MIT, Apache-2.0 OR MIT, or LicenseRef-<name> for a custom license";
  if (text.trim() === "") return { problem: "is empty", hint: generic };
  const tokens = tokenize(text);
  let i = 0;
  const next = (): string | undefined => tokens[i];

  const expectEnd = (what: string): never => {
    throw new SpdxSyntax(`ends where ${what} belongs`, generic);
  };

  function simple(token: string | undefined): SpdxLicense {
    if (token === undefined) return expectEnd("a license id");
    if (token.includes("/")) {
      throw new SpdxSyntax("uses '/' between licenses", `write ${quoteValue(token.split("/").join(" OR "))}`);
    }
    if (token === ")" || OPERATORS.includes(token)) {
      throw new SpdxSyntax(`has ${quoteValue(token)} where a license id belongs`, generic);
    }
    const ref = /^(?:DocumentRef-([A-Za-z0-9.-]+):)?LicenseRef-([A-Za-z0-9.-]+)$/.exec(token);
    if (ref !== null) return { kind: "ref", document: ref[1] ?? null, ref: ref[2], exception: null };
    const orLater = token.endsWith("+");
    const id = orLater ? token.slice(0, -1) : token;
    if (!IDSTRING.test(id) || id.startsWith("LicenseRef-") || id.startsWith("DocumentRef-")) {
      throw new SpdxSyntax(`has ${quoteValue(token)}, which is not a license id`, "ids are letters, digits, '-' and '.', e.g. MIT or Apache-2.0");
    }
    return { kind: "license", id, orLater, exception: null };
  }

  function withExpression(): SpdxExpression {
    if (next() === "(") {
      i++;
      const inner = expression();
      if (next() !== ")") throw new SpdxSyntax("has an unclosed '('", "add the missing ')'");
      i++;
      return inner;
    }
    const base = simple(tokens[i++]);
    if (next() !== "WITH") return base;
    i++;
    const exception = tokens[i++];
    if (exception === undefined || !IDSTRING.test(exception) || OPERATORS.includes(exception)) {
      throw new SpdxSyntax("has no exception id after WITH", "e.g. GPL-2.0-or-later WITH Classpath-exception-2.0");
    }
    return { ...base, exception };
  }

  function andExpression(): SpdxExpression {
    let left = withExpression();
    while (next() === "AND") {
      i++;
      left = { kind: "and", left, right: withExpression() };
    }
    return left;
  }

  function expression(): SpdxExpression {
    let left = andExpression();
    while (next() === "OR") {
      i++;
      left = { kind: "or", left, right: andExpression() };
    }
    return left;
  }

  try {
    const tree = expression();
    const rest = next();
    if (rest !== undefined) {
      if (rest === "WITH") throw new SpdxSyntax("has WITH after a parenthesis", "WITH follows one license id: (A WITH e) OR B");
      if (rest === ")") throw new SpdxSyntax("has an unmatched ')'", "remove it or add the matching '('");
      const upper = rest.toUpperCase();
      if (OPERATORS.includes(upper)) throw new SpdxSyntax(`has lowercase operator ${quoteValue(rest)}`, `operators are uppercase: ${upper}`);
      throw new SpdxSyntax(`needs AND, OR or WITH before ${quoteValue(rest)}`, generic);
    }
    return tree;
  } catch (error) {
    if (error instanceof SpdxSyntax) return { problem: error.problem, hint: error.hint };
    throw error;
  }
}

export function isSpdxProblem(value: SpdxExpression | SpdxProblem): value is SpdxProblem {
  return "problem" in value;
}
