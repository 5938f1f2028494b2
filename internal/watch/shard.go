package watch

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard selects the repositories one replica watches: repository r belongs
// to shard Index of Count when fnv64a(r) mod Count == Index. The hash is of
// the canonical repository name (registry/path), so every replica agrees
// without talking to the others and a rule's position in the config does
// not matter. The zero Shard owns everything.
type Shard struct {
	Index, Count int
}

// ParseShard reads "I/N" (e.g. "0/3"). I may also be a StatefulSet pod's
// name, which ends in "-ORDINAL" ("automator-2/3" is shard 2 of 3), so every
// replica of one pod template gets its own shard from the name Kubernetes
// gives it (`--shard=$(POD_NAME)/$(SHARD_COUNT)` with POD_NAME from the
// downward API; see deploy/sharded) and no replica needs its own flags.
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want I/N, e.g. 0/3, or POD-ORDINAL/N", s)
	}
	if dash := strings.LastIndexByte(i, '-'); dash > 0 {
		i = i[dash+1:] // a pod name: its ordinal
	}
	idx, err1 := strconv.Atoi(i)
	cnt, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil || cnt < 1 || idx < 0 || idx >= cnt {
		return Shard{}, fmt.Errorf("shard %q: want I/N with 0 <= I < N (I a number or a StatefulSet pod name NAME-I)", s)
	}
	return Shard{Index: idx, Count: cnt}, nil
}

// Owns reports whether repo (canonical "registry/path") belongs to this shard.
func (s Shard) Owns(repo string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(repo))
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}

// String returns "I/N".
func (s Shard) String() string {
	if s.Count == 0 {
		return "0/1"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}
