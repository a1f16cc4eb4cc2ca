// The doctor's report: a line per check, what to do under each one not ok,
// and a verdict.
package preflight

import (
	"fmt"
	"io"
	"strings"
)

// LoadCheck names the last check, which loads and attaches the programs.
const LoadCheck = "bpf"

// Report writes the results, one aligned line each, the fix under a check
// not ok, and a last line saying whether tracing would work (no check
// failed), which it returns.
func Report(w io.Writer, results []Result) bool {
	width := 0
	for _, r := range results {
		width = max(width, len(r.Check))
	}
	for _, r := range results {
		fmt.Fprintf(w, "%-4s  %-*s  %s\n", r.Status, width, r.Check, r.Detail)
		if r.Status != OK && r.Fix != "" {
			fmt.Fprintf(w, "      %-*s  fix: %s\n", width, "", r.Fix)
		}
	}
	failed := Failed(results)
	if len(failed) == 0 {
		for _, r := range results {
			if r.Check == LoadCheck && r.Status != OK {
				fmt.Fprintf(w, "no check failed, but the programs were not loaded and attached (see %s)\n", LoadCheck)
				return true
			}
		}
		fmt.Fprintln(w, "tracing would work")
		return true
	}
	fmt.Fprintf(w, "tracing would not work: %d check(s) failed: %s\n", len(failed), strings.Join(failed, ", "))
	return false
}
