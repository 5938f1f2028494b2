package watch

import (
	"testing"

	"github.com/deployment-automator/automator/internal/config"
)

func TestPolicySelect(t *testing.T) {
	cosign := []string{"sha256-0a1b.sig", "sha256-0a1b.att", "sha256-0a1b.sbom"}
	tests := []struct {
		name    string
		policy  config.TagPolicy
		exclude []string
		tags    []string
		want    string // "" means no eligible tag
	}{
		{"semver range picks highest in range", config.TagPolicy{Semver: ">=3.0.0 <4.0.0"},
			nil, []string{"2.9.9", "3.0.0", "3.4.0", "3.10.1", "4.0.0", "latest"}, "3.10.1"},
		{"semver accepts leading v", config.TagPolicy{Semver: "^1.2"},
			nil, []string{"v1.2.0", "v1.9.3", "1.3.0", "v2.0.0"}, "v1.9.3"},
		{"semver skips pre-releases by default", config.TagPolicy{Semver: ">=1.0.0"},
			nil, []string{"1.0.0", "1.1.0-rc.1", "2.0.0-beta"}, "1.0.0"},
		{"semver includes pre-releases when asked", config.TagPolicy{Semver: ">=1.0.0", Prerelease: true},
			nil, []string{"1.0.0", "1.1.0-rc.1", "1.1.0-rc.2"}, "1.1.0-rc.2"},
		{"release beats its own pre-release", config.TagPolicy{Semver: ">=1.0.0", Prerelease: true},
			nil, []string{"1.1.0-rc.2", "1.1.0"}, "1.1.0"},
		{"semver ignores partial moving tags", config.TagPolicy{Semver: ">=1.0.0"},
			nil, []string{"1", "1.2", "1.1.0"}, "1.1.0"},
		{"semver tie prefers stable name", config.TagPolicy{Semver: "*"},
			nil, []string{"v1.0.0", "1.0.0"}, "1.0.0"},
		{"semver nothing in range", config.TagPolicy{Semver: ">=5"},
			nil, []string{"1.0.0", "4.9.9"}, ""},
		{"regex alphabetical", config.TagPolicy{Regex: `^main-[0-9a-f]+-(?P<ts>\d+)$`, Extract: "$ts", Order: "alphabetical"},
			nil, []string{"main-abc-9", "main-def-10", "feature-x-99"}, "main-abc-9"},
		{"regex numerical", config.TagPolicy{Regex: `^main-[0-9a-f]+-(?P<ts>\d+)$`, Extract: "$ts", Order: "numerical"},
			nil, []string{"main-abc-9", "main-def-10", "feature-x-99"}, "main-def-10"},
		{"regex numbered group", config.TagPolicy{Regex: `^build-(\d+)$`, Extract: "${1}", Order: "numerical"},
			nil, []string{"build-2", "build-100", "build-30"}, "build-100"},
		{"regex numerical skips non-numbers", config.TagPolicy{Regex: `^rc-(.+)$`, Extract: "$1", Order: "numerical"},
			nil, []string{"rc-2", "rc-x", "rc-1.5"}, "rc-2"},
		{"regex numerical with decimals and huge values", config.TagPolicy{Regex: `^v(.+)$`, Extract: "$1", Order: "numerical"},
			nil, []string{"v20240101120000000001", "v20240101120000000002", "v3.5"}, "v20240101120000000002"},
		{"regex without extract orders whole tags", config.TagPolicy{Regex: `^2024-`},
			nil, []string{"2024-01-31", "2024-02-01", "2023-12-31"}, "2024-02-01"},
		{"cosign tags excluded by default", config.TagPolicy{Regex: `.*`},
			nil, append([]string{"a"}, cosign...), "a"},
		{"custom exclusions", config.TagPolicy{Regex: `.*`, Order: "alphabetical"},
			[]string{`-debug$`}, []string{"b", "c-debug"}, "b"},
		{"empty exclusions keep everything", config.TagPolicy{Regex: `.*`},
			[]string{}, []string{"a", "sha256-0a1b.sig"}, "sha256-0a1b.sig"},
		{"semver with exclusions", config.TagPolicy{Semver: "*"},
			[]string{`^2\.`}, []string{"1.0.0", "2.0.0"}, "1.0.0"},
		{"digest policy follows its tag", config.TagPolicy{Digest: "stable"},
			nil, []string{"1.0.0", "stable"}, "stable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPolicy(tc.policy, tc.exclude)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := p.Select(tc.tags)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("Select(%q) = %q, %v; want %q", tc.tags, got, ok, tc.want)
			}
		})
	}
}

func TestPolicyNewer(t *testing.T) {
	tests := []struct {
		name               string
		policy             config.TagPolicy
		candidate, current string
		want               bool
	}{
		{"newer semver", config.TagPolicy{Semver: "*"}, "1.2.0", "1.1.9", true},
		{"older semver never replaces newer", config.TagPolicy{Semver: "*"}, "1.1.9", "1.2.0", false},
		{"equal semver", config.TagPolicy{Semver: "*"}, "v1.2.0", "1.2.0", false},
		{"current out of range still compared", config.TagPolicy{Semver: "<2"}, "1.9.0", "2.5.0", false},
		{"unreadable current is older", config.TagPolicy{Semver: "*"}, "1.0.0", "latest", true},
		{"release newer than its pre-release", config.TagPolicy{Semver: "*", Prerelease: true}, "1.0.0", "1.0.0-rc.1", true},
		{"regex numerical newer", config.TagPolicy{Regex: `^b-(\d+)$`, Extract: "$1", Order: "numerical"}, "b-10", "b-9", true},
		{"regex numerical older", config.TagPolicy{Regex: `^b-(\d+)$`, Extract: "$1", Order: "numerical"}, "b-9", "b-10", false},
		{"regex alphabetical", config.TagPolicy{Regex: `^b-(\d+)$`, Extract: "$1"}, "b-9", "b-10", true},
		{"regex current not matching", config.TagPolicy{Regex: `^b-(\d+)$`, Extract: "$1"}, "b-1", "latest", true},
		{"digest policy never compares names", config.TagPolicy{Digest: "stable"}, "stable", "old", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPolicy(tc.policy, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Newer(tc.candidate, tc.current); got != tc.want {
				t.Errorf("Newer(%q, %q) = %v, want %v", tc.candidate, tc.current, got, tc.want)
			}
		})
	}
}

func TestNewPolicyErrors(t *testing.T) {
	tests := []struct {
		name    string
		policy  config.TagPolicy
		exclude []string
	}{
		{"none set", config.TagPolicy{}, nil},
		{"two set", config.TagPolicy{Semver: "*", Regex: ".*"}, nil},
		{"bad range", config.TagPolicy{Semver: ">>1"}, nil},
		{"bad regex", config.TagPolicy{Regex: "("}, nil},
		{"bad order", config.TagPolicy{Regex: ".*", Order: "random"}, nil},
		{"bad exclude", config.TagPolicy{Regex: ".*"}, []string{"["}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewPolicy(tc.policy, tc.exclude); err == nil {
				t.Error("NewPolicy succeeded, want an error")
			}
		})
	}
}

func TestShard(t *testing.T) {
	repos := make([]string, 300)
	for i := range repos {
		repos[i] = "registry.example.com/team/app-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	const n = 3
	owners := map[string]int{}
	perShard := make([]int, n)
	for i := 0; i < n; i++ {
		s, err := ParseShard(string(rune('0'+i)) + "/3")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range repos {
			if s.Owns(r) {
				owners[r]++
				perShard[i]++
			}
		}
	}
	for _, r := range repos {
		if owners[r] != 1 {
			t.Errorf("%s owned by %d shards, want exactly 1", r, owners[r])
		}
	}
	for i, c := range perShard {
		if c < len(repos)/n/2 {
			t.Errorf("shard %d owns %d of %d repositories: the hash does not spread", i, c, len(repos))
		}
	}
	for _, bad := range []string{"3/3", "-1/2", "1", "a/b", "0/0"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) succeeded, want an error", bad)
		}
	}
	if !(Shard{}).Owns("anything") {
		t.Error("zero Shard must own everything")
	}
}
