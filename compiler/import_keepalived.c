/* placeholder */
#include "import.h"
bool
import_keepalived(const char *path, const struct import_options *o,
                  struct lb_spec *spec, struct diag *d)
{
    (void) o; (void) spec;
    diag_error(d, NULL, "%s: not yet", path);
    return false;
}
