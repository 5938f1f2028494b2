package build

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/Masterminds/semver/v3"
)

// DefaultTagTemplate is the tag every image gets when build.tags is empty: immutable, from the commit.
const DefaultTagTemplate = "sha-{{ .ShortSHA }}"

// TimestampFormat is how {{ .Timestamp }} renders (UTC, sortable, valid in a tag).
const TimestampFormat = "20060102150405"

var (
	tagRE     = lazyRegexp(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	shaRE     = lazyRegexp(`^[0-9a-f]{40}([0-9a-f]{24})?$`)
	tagBadRun = lazyRegexp(`[^A-Za-z0-9._-]+`)
)

// ErrInvalidTag is wrapped by errors about tags that do not match the OCI tag grammar
// [A-Za-z0-9_][A-Za-z0-9._-]{0,127}. Such tags are rejected before anything is built.
var ErrInvalidTag = errors.New("invalid tag")

// ValidateTag checks tag against the OCI distribution tag grammar.
func ValidateTag(tag string) error {
	if !tagRE().MatchString(tag) {
		return fmt.Errorf("%w %q: must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}", ErrInvalidTag, tag)
	}
	return nil
}

// TagData holds the fields tag templates can use.
type TagData struct {
	// SHA is the full commit SHA (lowercase hex).
	SHA string
	// ShortSHA is the first 12 hex digits of SHA.
	ShortSHA string
	// Branch is the branch name with every run of characters not allowed in a tag replaced by "-"
	// (feature/login → feature-login); empty on a tag push.
	Branch string
	// Tag is the git tag name on a tag push (as pushed, e.g. v2.1.1-rc1), else empty.
	Tag string
	// Timestamp is the build time in UTC as YYYYMMDDhhmmss.
	Timestamp string
	// Version is the semantic version of Tag without a leading "v" (2.1.1-rc1) when Tag is one, else empty.
	Version string
}

// NewTagData derives template fields from the commit SHA, the git ref that triggered the run
// (refs/heads/NAME, refs/tags/NAME, or a bare branch name) and the build time.
func NewTagData(sha, ref string, now time.Time) (TagData, error) {
	sha = strings.ToLower(sha)
	if !shaRE().MatchString(sha) {
		return TagData{}, fmt.Errorf("commit %q is not a full hex SHA", sha)
	}
	d := TagData{SHA: sha, ShortSHA: sha[:12], Timestamp: now.UTC().Format(TimestampFormat)}
	switch {
	case strings.HasPrefix(ref, "refs/tags/"):
		d.Tag = strings.TrimPrefix(ref, "refs/tags/")
		if v, err := semver.StrictNewVersion(strings.TrimPrefix(d.Tag, "v")); err == nil {
			d.Version = v.String()
		}
	case ref != "":
		d.Branch = strings.Trim(tagBadRun().ReplaceAllString(strings.TrimPrefix(ref, "refs/heads/"), "-"), "-.")
	}
	return d, nil
}

// Tags renders the tag templates (DefaultTagTemplate when there are none) and, on a tag push of a
// semantic version, appends the version. Templates that render empty are skipped (e.g. {{ .Tag }} on a
// branch push); duplicates are dropped; every result is validated, so a bad template fails before the
// build starts.
func Tags(templates []string, d TagData) ([]string, error) {
	if len(templates) == 0 {
		templates = []string{DefaultTagTemplate}
	}
	var out []string
	seen := map[string]bool{}
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	var errs []error
	for _, src := range templates {
		tmpl, err := template.New("tag").Option("missingkey=error").Parse(src)
		if err != nil {
			errs = append(errs, fmt.Errorf("parsing tag template %q: %w", src, err))
			continue
		}
		var b bytes.Buffer
		if err := tmpl.Execute(&b, d); err != nil {
			errs = append(errs, fmt.Errorf("rendering tag template %q: %w", src, err))
			continue
		}
		tag := strings.TrimSpace(b.String())
		if tag == "" {
			continue
		}
		if err := ValidateTag(tag); err != nil {
			errs = append(errs, fmt.Errorf("tag template %q: %w", src, err))
			continue
		}
		add(tag)
	}
	if d.Version != "" {
		add(d.Version)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: tag templates %q rendered no tag", ErrInvalidTag, templates)
	}
	return out, nil
}

// CommitTags returns those of tags (as Tags rendered them from templates and d) that name the commit
// and nothing else: templates that render the same whatever the branch, git tag, version and time,
// and differently for another commit, such as DefaultTagTemplate (a constant tag like "latest" names
// no commit). A commit's image is found again by such a tag, so that a later event on
// the same commit (a release tag) re-tags it instead of building it again; and such a tag is never
// moved to another digest. The check renders each template again with every field but SHA and
// ShortSHA changed, and with only those changed, rather than parsing the template, because a
// template's output, not its field names, is what has to stay put.
func CommitTags(templates []string, d TagData) []string {
	if len(templates) == 0 {
		templates = []string{DefaultTagTemplate}
	}
	other := TagData{SHA: d.SHA, ShortSHA: d.ShortSHA, Branch: d.Branch + "-x", Tag: d.Tag + "-x",
		Timestamp: d.Timestamp + "0", Version: d.Version + "-x"}
	otherSHA := d
	flip := "0"
	if strings.HasPrefix(d.SHA, "0") {
		flip = "1"
	}
	otherSHA.SHA = flip + d.SHA[min(1, len(d.SHA)):]
	otherSHA.ShortSHA = flip + d.ShortSHA[min(1, len(d.ShortSHA)):]
	var out []string
	for _, src := range templates {
		a, errA := Tags([]string{src}, d)
		b, errB := Tags([]string{src}, other)
		c, errC := Tags([]string{src}, otherSHA)
		if errA != nil || errB != nil || errC != nil || a[0] != b[0] || a[0] == c[0] || (d.Version != "" && a[0] == d.Version) {
			continue
		}
		if !slices.Contains(out, a[0]) {
			out = append(out, a[0])
		}
	}
	return out
}

// OCI label keys set on every image.
const (
	LabelSource   = "org.opencontainers.image.source"
	LabelRevision = "org.opencontainers.image.revision"
	LabelCreated  = "org.opencontainers.image.created"
	LabelVersion  = "org.opencontainers.image.version"
	LabelTitle    = "org.opencontainers.image.title"
)

// Metadata is the provenance every image carries as OCI labels and annotations.
type Metadata struct {
	// Source is the URL of the source repository (e.g. https://github.com/acme/shop).
	Source string
	// Revision is the commit SHA.
	Revision string
	// Created is the build time.
	Created time.Time
	// Version is the released version, or the first tag when the build is not a release.
	Version string
	// Title is the service name.
	Title string
}

// Labels returns the org.opencontainers.image.* labels, merged over extra (config build.labels). The
// standard keys always win, so an image can never misstate its own provenance. Empty values are omitted.
func (m Metadata) Labels(extra map[string]string) map[string]string {
	out := make(map[string]string, len(extra)+5)
	for k, v := range extra {
		out[k] = v
	}
	for k, v := range map[string]string{
		LabelSource: m.Source, LabelRevision: m.Revision, LabelVersion: m.Version, LabelTitle: m.Title,
		LabelCreated: m.Created.UTC().Format(time.RFC3339),
	} {
		if v != "" && !(k == LabelCreated && m.Created.IsZero()) {
			out[k] = v
		}
	}
	return out
}

// lazyRegexp compiles expr on first use: package-level regexps compiled at
// init cost every automator process start-up, whatever the command.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
