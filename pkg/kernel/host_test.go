package kernel

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestTextSymbols(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kallsyms")
	body := "ffffffff81000000 T _stext\n" +
		"ffffffff81000010 t do_readv\n" +
		"ffffffff81000020 D ksys_data\n" +
		"ffffffffc0000000 t nf_hook\t[nf_tables]\n" +
		"ffffffff81000030 T ksys_read\n" +
		"garbage\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	h := Host{Kallsyms: path}
	all, err := h.TextSymbols(nil)
	want := map[string]bool{"_stext": true, "do_readv": true, "nf_hook": true, "ksys_read": true}
	if err != nil || !reflect.DeepEqual(all, want) {
		t.Errorf("all: %v %v, want %v", all, err, want)
	}
	some, err := h.TextSymbols(map[string]bool{"ksys_read": true, "ksys_data": true, "nf_hook": true, "gone": true})
	want = map[string]bool{"ksys_read": true, "nf_hook": true}
	if err != nil || !reflect.DeepEqual(some, want) {
		t.Errorf("wanted: %v %v, want %v", some, err, want)
	}
	if _, err := (Host{Kallsyms: path + ".absent"}).TextSymbols(nil); err == nil {
		t.Error("a missing kallsyms gave no error")
	}
}
