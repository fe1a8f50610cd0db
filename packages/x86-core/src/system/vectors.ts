/** The exception vectors system raises or classifies (Intel SDM Vol. 3A, 6.3.1). */
export const DE = 0;
export const DB = 1;
export const UD = 6;
export const DF = 8;
export const TS = 10;
export const NP = 11;
export const SS_FAULT = 12;
export const GP = 13;
export const PF = 14;
export const AC = 17;

/** Exceptions that push an error code when delivered as exceptions (SDM 6.13). */
export function pushesErrorCode(vector: number): boolean {
  return vector === DF || (vector >= TS && vector <= PF) || vector === AC;
}

/** Error-code bit 0 (SDM 6.13): the fault arose while delivering an external event or an earlier exception. */
export const ERR_EXT = 1;
