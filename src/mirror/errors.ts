/** The error codes of the mirrors (src/errors/codes.ts has their exit codes and summaries), in one place for the modules that share them. */
export const ERR_MIRROR_BAD_INDEX = "ERR_MIRROR_BAD_INDEX";
export const ERR_MIRROR_BAD_ENTRY = "ERR_MIRROR_BAD_ENTRY";
export const ERR_MIRROR_BAD_ARCHIVE = "ERR_MIRROR_BAD_ARCHIVE";
export const ERR_MIRROR_INTEGRITY = "ERR_MIRROR_INTEGRITY";
export const ERR_MIRROR_UPSTREAM = "ERR_MIRROR_UPSTREAM";
export const ERR_MIRROR_UNKNOWN_PACKAGE = "ERR_MIRROR_UNKNOWN_PACKAGE";
export const ERR_MIRROR_BAD_SOURCE = "ERR_MIRROR_BAD_SOURCE";
export const ERR_MIRROR_NOT_SNAPSHOT = "ERR_MIRROR_NOT_SNAPSHOT";
export const ERR_MIRROR_NAME = "ERR_MIRROR_NAME";
export const ERR_MIRROR_BUSY = "ERR_MIRROR_BUSY";
