// The map's type, size and name, from the BPF syscall.
package ringbuf

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapInfo is the head of the kernel's struct bpf_map_info; the kernel fills
// only as many bytes as it is given.
type mapInfo struct {
	Type       uint32
	ID         uint32
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	MapFlags   uint32
	Name       [unix.BPF_OBJ_NAME_LEN]byte
}

// name is the map's name, or its id when it has none.
func (i *mapInfo) name() string {
	if n := unix.ByteSliceToString(i.Name[:]); n != "" {
		return n
	}
	return fmt.Sprintf("id %d", i.ID)
}

// objGetInfoAttr is the BPF_OBJ_GET_INFO_BY_FD member of union bpf_attr.
type objGetInfoAttr struct {
	bpfFD   uint32
	infoLen uint32
	info    uint64 // pointer to the info struct
}

// getMapInfo asks the kernel about the map with this fd.
func getMapInfo(fd int) (*mapInfo, error) {
	info := new(mapInfo)
	attr := objGetInfoAttr{
		bpfFD:   uint32(fd),
		infoLen: uint32(unsafe.Sizeof(*info)),
		info:    uint64(uintptr(unsafe.Pointer(info))),
	}
	_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_OBJ_GET_INFO_BY_FD,
		uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(info)
	if errno != 0 {
		return nil, fmt.Errorf("reading info of map fd %d: %w", fd, errno)
	}
	return info, nil
}
