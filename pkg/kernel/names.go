// Names close to a wanted kernel symbol or tracepoint, for error messages.

package kernel

import (
	"sort"
	"strings"
)

// Candidates suggests up to five names close to the wanted one: those that
// contain it (ignoring leading underscores) or are a few edits away.
func Candidates(want string, have map[string]bool) []string {
	core := strings.TrimLeft(want, "_")
	type scored struct {
		name string
		d    int
	}
	var found []scored
	for name := range have {
		switch {
		case core != "" && strings.Contains(name, core) && len(name) <= len(want)+12:
			found = append(found, scored{name, len(name) - len(core)})
		default:
			if d := editDistance(want, name); d <= 2 {
				found = append(found, scored{name, d})
			}
		}
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].d != found[j].d {
			return found[i].d < found[j].d
		}
		return found[i].name < found[j].name
	})
	var out []string
	for i := 0; i < len(found) && i < 5; i++ {
		out = append(out, found[i].name)
	}
	return out
}

// editDistance is the Levenshtein distance, bounded for speed: names whose
// lengths differ by more than 2 are not compared.
func editDistance(a, b string) int {
	if d := len(a) - len(b); d > 2 || d < -2 {
		return 3
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
