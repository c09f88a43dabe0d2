/**
 * The hook for tag immutability: retention never removes a tag an immutability rule protects.
 * `isProtected` answers with the rule's name (for the report), or undefined.
 */
export interface TagProtection {
  isProtected(repository: string, tag: string): Promise<string | undefined>;
}

/** No immutability rules: nothing is protected beyond the policy's keep patterns. */
export const noTagProtection: TagProtection = {
  isProtected: async () => undefined,
};
