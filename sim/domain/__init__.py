"""Pure-numpy domain core: deal space, utility tables, territory accounting, solution concepts."""
