package e2e_test

import (
	"os"
	"syscall"
)

// ownerUID is the uid that owns the file info describes.
func ownerUID(info os.FileInfo) int {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
