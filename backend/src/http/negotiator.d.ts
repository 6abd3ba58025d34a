// negotiator 1.x ships no types, and @types/negotiator describes 0.6 (no `preferred`): the part used here.
declare module 'negotiator' {
  class Negotiator {
    constructor(request: { headers: Readonly<Record<string, string | readonly string[] | undefined>> });
    /** The client's most preferred of `available`; ties go to the order of `options.preferred`. */
    encoding(available?: readonly string[], options?: { preferred?: readonly string[] }): string | undefined;
  }
  export = Negotiator;
}
