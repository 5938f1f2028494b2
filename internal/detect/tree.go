package detect

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/deployment-automator/automator/internal/git"
)

// gitTree is a read-only fs.FS over the tree of one commit: the listing comes
// from one `git ls-tree`, contents from one `git cat-file --batch` per
// Preload call. Reading a file that was not preloaded returns fs.ErrNotExist
// wrapped in a PathError, never empty content, so a missing preload cannot
// hide a Dockerfile.
type gitTree struct {
	files map[string][]byte // nil value: listed, not loaded
	dirs  map[string][]string
	repo  *git.Repo
	rev   string
}

var (
	_ fs.ReadFileFS = (*gitTree)(nil)
	_ fs.ReadDirFS  = (*gitTree)(nil)
	_ fs.StatFS     = (*gitTree)(nil)
)

func newGitTree(ctx context.Context, repo *git.Repo, rev, prefix string) (*gitTree, error) {
	all, err := repo.LsFiles(ctx, rev)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, f := range all {
		if prefix != "" {
			rest, ok := strings.CutPrefix(f, prefix+"/")
			if !ok {
				continue
			}
			f = rest
		}
		files = append(files, f)
	}
	t := newTree(files)
	t.repo, t.rev = repo, rev
	if prefix != "" {
		t.rev = rev + ":" + prefix
	}
	return t, nil
}

// newTree indexes a file listing; contents are loaded later (preload).
func newTree(files []string) *gitTree {
	t := &gitTree{files: make(map[string][]byte, len(files)), dirs: map[string][]string{".": nil}}
	seenDir := map[string]bool{".": true}
	for _, f := range files {
		t.files[f] = nil
		child := f
		for {
			dir := path.Dir(child)
			t.dirs[dir] = append(t.dirs[dir], path.Base(child))
			if seenDir[dir] {
				break
			}
			seenDir[dir] = true
			child = dir
		}
	}
	for d := range t.dirs {
		slices.Sort(t.dirs[d])
		t.dirs[d] = slices.Compact(t.dirs[d])
	}
	return t
}

// preload reads the listed names among names with one git process.
func (t *gitTree) preload(ctx context.Context, names []string) error {
	var want []string
	for _, n := range names {
		if data, ok := t.files[n]; ok && data == nil {
			want = append(want, n)
		}
	}
	if len(want) == 0 {
		return nil
	}
	got, err := t.repo.ReadFiles(ctx, t.rev, want)
	if err != nil {
		return err
	}
	for _, n := range want {
		if data, ok := got[n]; ok {
			if data == nil {
				data = []byte{}
			}
			t.files[n] = data
		}
	}
	return nil
}

func (t *gitTree) ReadFile(name string) ([]byte, error) {
	data, ok := t.files[name]
	if !ok || data == nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return slices.Clone(data), nil
}

func (t *gitTree) ReadDir(name string) ([]fs.DirEntry, error) {
	kids, ok := t.dirs[name]
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	out := make([]fs.DirEntry, 0, len(kids))
	for _, k := range kids {
		full := path.Join(name, k)
		_, isDir := t.dirs[full]
		out = append(out, fs.FileInfoToDirEntry(treeInfo{name: k, dir: isDir, size: int64(len(t.files[full]))}))
	}
	return out, nil
}

func (t *gitTree) Stat(name string) (fs.FileInfo, error) {
	if _, ok := t.dirs[name]; ok {
		return treeInfo{name: path.Base(name), dir: true}, nil
	}
	if data, ok := t.files[name]; ok {
		return treeInfo{name: path.Base(name), size: int64(len(data))}, nil
	}
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

func (t *gitTree) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	st, err := t.Stat(name)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return &treeFile{info: st}, nil
	}
	data, err := t.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return &treeFile{info: st, r: bytes.NewReader(data)}, nil
}

type treeInfo struct {
	name string
	dir  bool
	size int64
}

func (i treeInfo) Name() string { return i.name }
func (i treeInfo) Size() int64  { return i.size }
func (i treeInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i treeInfo) ModTime() time.Time { return time.Time{} }
func (i treeInfo) IsDir() bool        { return i.dir }
func (i treeInfo) Sys() any           { return nil }

type treeFile struct {
	info fs.FileInfo
	r    *bytes.Reader
}

func (f *treeFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *treeFile) Close() error               { return nil }
func (f *treeFile) Read(p []byte) (int, error) {
	if f.r == nil {
		return 0, &fs.PathError{Op: "read", Path: f.info.Name(), Err: fs.ErrInvalid}
	}
	return f.r.Read(p)
}

var _ io.Reader = (*treeFile)(nil)
