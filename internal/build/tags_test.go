package build

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testSHA = "0123456789abcdef0123456789abcdef01234567"

func TestTags(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		name      string
		ref       string
		templates []string
		want      []string
		wantErr   string
	}{
		{"default on branch push", "refs/heads/main", nil, []string{"sha-0123456789ab"}, ""},
		{"default plus semver on tag push", "refs/tags/v2.1.1-rc1", nil, []string{"sha-0123456789ab", "2.1.1-rc1"}, ""},
		{"non-semver tag push adds nothing", "refs/tags/nightly", nil, []string{"sha-0123456789ab"}, ""},
		{"all fields", "refs/heads/feature/Login_2", []string{"{{ .Branch }}-{{ .ShortSHA }}", "{{ .SHA }}", "ts-{{ .Timestamp }}"},
			[]string{"feature-Login_2-0123456789ab", testSHA, "ts-20260304040607"}, ""},
		{"tag template empty on branch push is skipped", "refs/heads/main", []string{"sha-{{ .ShortSHA }}", "{{ .Tag }}"}, []string{"sha-0123456789ab"}, ""},
		{"tag template on tag push", "refs/tags/v3.0.0", []string{"{{ .Tag }}"}, []string{"v3.0.0", "3.0.0"}, ""},
		{"duplicates dropped", "refs/tags/1.0.0", []string{"{{ .Tag }}"}, []string{"1.0.0"}, ""},
		{"invalid character", "refs/heads/main", []string{"release:{{ .ShortSHA }}"}, nil, `invalid tag "release:0123456789ab"`},
		{"leading dot", "refs/heads/main", []string{".{{ .ShortSHA }}"}, nil, "invalid tag"},
		{"too long", "refs/heads/main", []string{strings.Repeat("a", 100) + "{{ .SHA }}"}, nil, "invalid tag"},
		{"unknown field", "refs/heads/main", []string{"{{ .Commit }}"}, nil, "rendering tag template"},
		{"bad template", "refs/heads/main", []string{"{{ .SHA"}, nil, "parsing tag template"},
		{"nothing rendered", "refs/heads/main", []string{"{{ .Tag }}"}, nil, "rendered no tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewTagData(testSHA, tc.ref, now)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Tags(tc.templates, d)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				if strings.Contains(tc.wantErr, "invalid tag") && !errors.Is(err, ErrInvalidTag) {
					t.Errorf("err does not wrap ErrInvalidTag: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("tags = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewTagDataRejectsShortSHA(t *testing.T) {
	if _, err := NewTagData("abc123", "refs/heads/main", time.Now()); err == nil {
		t.Fatal("short SHA accepted")
	}
}

func TestValidateTag(t *testing.T) {
	for tag, ok := range map[string]bool{
		"v1.2.3": true, "_x": true, "sha-0123": true, strings.Repeat("a", 128): true,
		"": false, "-x": false, ".x": false, "a/b": false, "a:b": false, strings.Repeat("a", 129): false,
	} {
		if err := ValidateTag(tag); (err == nil) != ok {
			t.Errorf("ValidateTag(%q) = %v, want ok=%v", tag, err, ok)
		}
	}
}

func TestMetadataLabels(t *testing.T) {
	m := Metadata{Source: "https://github.com/acme/shop", Revision: testSHA, Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Version: "1.2.3", Title: "cart"}
	got := m.Labels(map[string]string{"team": "payments", LabelTitle: "spoofed"})
	want := map[string]string{
		"team": "payments", LabelSource: "https://github.com/acme/shop", LabelRevision: testSHA,
		LabelCreated: "2026-01-02T03:04:05Z", LabelVersion: "1.2.3", LabelTitle: "cart",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("labels = %v, want %v", got, want)
	}
}

func TestCommitTags(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		ref       string
		templates []string
		want      []string
	}{
		{"default on branch push", "refs/heads/main", nil, []string{"sha-0123456789ab"}},
		{"default on release tag: the version is not the commit's", "refs/tags/v2.1.1", nil, []string{"sha-0123456789ab"}},
		{"full SHA and a fixed prefix", "refs/heads/main", []string{"{{ .SHA }}", "git-{{ .ShortSHA }}"}, []string{testSHA, "git-0123456789ab"}},
		{"branch, tag, time and version name no commit", "refs/tags/v3.0.0",
			[]string{"{{ .Branch }}{{ .ShortSHA }}", "{{ .Tag }}", "ts-{{ .Timestamp }}", "{{ .Version }}-{{ .ShortSHA }}"}, nil},
		{"a template empty on this event is skipped", "refs/heads/main", []string{"{{ .Tag }}", "sha-{{ .ShortSHA }}"}, []string{"sha-0123456789ab"}},
		{"a constant tag names no commit", "refs/heads/main", []string{"latest", "sha-{{ .ShortSHA }}"}, []string{"sha-0123456789ab"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewTagData(testSHA, tc.ref, now)
			if err != nil {
				t.Fatal(err)
			}
			if got := CommitTags(tc.templates, d); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("CommitTags = %q, want %q", got, tc.want)
			}
		})
	}
}
