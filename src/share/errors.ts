/** Errors of moving content between machines (CAR files). */
export const ERR_CAR_INVALID = "ERR_CAR_INVALID";
export const ERR_CAR_INCOMPLETE = "ERR_CAR_INCOMPLETE";
export const ERR_CAR_NOT_FOUND = "ERR_CAR_NOT_FOUND";
