package kernel

import "testing"

func TestAtLeast(t *testing.T) {
	cases := []struct {
		release      string
		major, minor int
		want         bool
	}{
		{"5.10.0-32-amd64", 5, 11, false},
		{"5.11.0", 5, 11, true},
		{"6.1.0-56-amd64", 5, 11, true},
		{"6.6.9", 6, 7, false},
		{"6.12.117+deb13-amd64", 6, 7, true},
		{"7.0", 6, 7, true},
		{"weird", 6, 7, true},
	}
	for _, tc := range cases {
		if got := AtLeast(tc.release, tc.major, tc.minor); got != tc.want {
			t.Errorf("AtLeast(%q, %d, %d) = %v", tc.release, tc.major, tc.minor, got)
		}
	}
	if Release() == "" {
		t.Error("empty release")
	}
}
