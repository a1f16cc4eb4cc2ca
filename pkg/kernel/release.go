// Package kernel answers questions about the running kernel: its release,
// BTF, tracefs, kernel symbols and kprobe support, all through one Host.
package kernel

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Release is the running kernel's release, e.g. 6.1.0-56-amd64.
func Release() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// AtLeast reports whether a release is major.minor or later. A release it
// cannot read counts as recent.
func AtLeast(release string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(release, "%d.%d", &ma, &mi); err != nil {
		return true
	}
	return ma > major || (ma == major && mi >= minor)
}
