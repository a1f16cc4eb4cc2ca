// Capabilities: the effective set of this process, and the ones httptrace uses.
package preflight

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Capability bits (linux/capability.h).
const (
	capDacReadSearch = 2
	capSysPtrace     = 19
	capSysAdmin      = 21
	capSysResource   = 24
	capPerfmon       = 38
	capBPF           = 39
)

// capSet is a process's effective capabilities.
type capSet uint64

func (c capSet) has(bit uint) bool { return c&(1<<bit) != 0 }

// mayLoadBPF says whether programs and maps may be loaded and perf events
// opened: CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON.
func (c capSet) mayLoadBPF() bool {
	return c.has(capSysAdmin) || (c.has(capBPF) && c.has(capPerfmon))
}

// effectiveCaps reads this process's effective set from procRoot/self/status.
func effectiveCaps(procRoot string) (capSet, error) {
	data, err := os.ReadFile(procRoot + "/self/status")
	if err != nil {
		return 0, fmt.Errorf("reading capabilities: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		hex, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		eff, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing CapEff %q: %w", hex, err)
		}
		return capSet(eff), nil
	}
	return 0, errors.New("no CapEff line in " + procRoot + "/self/status")
}
