package registry

import (
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// maxRememberedBlobs bounds the blob memory of a long-running process (the watcher): past it the
// memory starts again from empty. It only decides where a mount is tried first; a forgotten blob is
// uploaded, or mounted from the source, as without it.
const maxRememberedBlobs = 100_000

// maxHoldersPerBlob bounds the repositories remembered per blob (the most recent ones are kept).
const maxHoldersPerBlob = 8

// blobMemory remembers, for this process, which repositories hold which blobs: those it copied or
// pushed them into and those it read them from. A later copy into another repository of the same
// registry mounts a blob from one of them instead of uploading it again.
type blobMemory struct {
	mu      sync.Mutex
	holders map[v1.Hash][]name.Repository // most recent last
}

func newBlobMemory() *blobMemory { return &blobMemory{holders: map[v1.Hash][]name.Repository{}} }

// add records that repo holds the blobs.
func (m *blobMemory) add(repo name.Repository, blobs ...v1.Hash) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.holders)+len(blobs) > maxRememberedBlobs {
		m.holders = map[v1.Hash][]name.Repository{}
	}
	for _, h := range blobs {
		rs := m.holders[h]
		for i, r := range rs {
			if sameRepository(r, repo) {
				rs = append(rs[:i], rs[i+1:]...)
				break
			}
		}
		rs = append(rs, repo)
		if len(rs) > maxHoldersPerBlob {
			rs = rs[len(rs)-maxHoldersPerBlob:]
		}
		m.holders[h] = rs
	}
}

// inRegistry returns the repositories of dst's registry, other than dst, known to hold h, most recent
// first.
func (m *blobMemory) inRegistry(h v1.Hash, dst name.Repository) []name.Repository {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.holders[h]
	var out []name.Repository
	for i := len(rs) - 1; i >= 0; i-- {
		if sameRegistry(rs[i], dst) && !sameRepository(rs[i], dst) {
			out = append(out, rs[i])
		}
	}
	return out
}

func sameRegistry(a, b name.Repository) bool {
	return NormalizeHost(a.RegistryStr()) == NormalizeHost(b.RegistryStr())
}

func sameRepository(a, b name.Repository) bool {
	return sameRegistry(a, b) && a.RepositoryStr() == b.RepositoryStr()
}

// mounter picks, per blob, the repository of the destination's registry a copy mounts it from: the
// source repository when it is in that registry, else the repository this process last saw holding
// the blob there, else the first hint (a repository the caller expects to hold it, such as the same
// service's other environments). go-containerregistry sends one mount request per blob, naming the
// repository of the layer's reference, and uploads the blob when the registry declines the mount; the
// mounter sets that reference. It records every blob it saw, for the memory once the copy succeeded.
type mounter struct {
	dst, src name.Repository
	hints    []name.Repository
	memory   *blobMemory

	mu   sync.Mutex
	seen []v1.Hash
}

// from returns the repository to mount h from, if any.
func (m *mounter) from(h v1.Hash) (name.Repository, bool) {
	m.saw(h)
	if sameRegistry(m.src, m.dst) && !sameRepository(m.src, m.dst) {
		return m.src, true
	}
	if rs := m.memory.inRegistry(h, m.dst); len(rs) > 0 {
		return rs[0], true
	}
	for _, r := range m.hints {
		if sameRegistry(r, m.dst) && !sameRepository(r, m.dst) {
			return r, true
		}
	}
	return name.Repository{}, false
}

// saw records that the copy met blob h.
func (m *mounter) saw(h v1.Hash) {
	m.mu.Lock()
	m.seen = append(m.seen, h)
	m.mu.Unlock()
}

// layer wraps l so that pushing it first tries a mount from the chosen repository.
func (m *mounter) layer(l v1.Layer) (v1.Layer, error) {
	h, err := l.Digest()
	if err != nil {
		return nil, err
	}
	inner := l
	if ml, ok := l.(*remote.MountableLayer); ok {
		inner = ml.Layer
	}
	repo, ok := m.from(h)
	if !ok {
		return l, nil
	}
	return &remote.MountableLayer{Layer: inner, Reference: repo.Digest(h.String())}, nil
}

// remember records, after a successful copy, that both the source and the destination hold every
// blob the copy saw.
func (m *mounter) remember() {
	m.mu.Lock()
	seen := m.seen
	m.mu.Unlock()
	m.memory.add(m.src, seen...)
	m.memory.add(m.dst, seen...)
}

// mountImage is an image whose layers and config are pushed through the mounter (for the images of
// an index, which go-containerregistry's pusher walks itself).
type mountImage struct {
	v1.Image
	m *mounter
}

// Layers implements v1.Image.
func (mi mountImage) Layers() ([]v1.Layer, error) {
	ls, err := mi.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		if out[i], err = mi.m.layer(l); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ConfigLayer is found by partial.ConfigLayer, which the pusher uses to upload the config blob.
func (mi mountImage) ConfigLayer() (v1.Layer, error) {
	l, err := partial.ConfigLayer(mi.Image)
	if err != nil {
		return nil, err
	}
	return mi.m.layer(l)
}

// Descriptor keeps the descriptor the index gives the image (platform, annotations).
func (mi mountImage) Descriptor() (*v1.Descriptor, error) { return partial.Descriptor(mi.Image) }
