package deploy

import (
	"testing"

	"github.com/httptrace/httptrace/test/harness"
)

// TestMain lets this test binary run as the tests' servers.
func TestMain(m *testing.M) { harness.Main(m) }
