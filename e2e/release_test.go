package e2e_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/deployment-automator/automator/e2e/harness"
)

// releaseRun is one run of the action on a tag of the shop's commit.
type releaseRun struct {
	runResult
	images map[string]imageOut // by service
}

// runOnTag tags commit as tag, pushes the tag and runs the action for its
// push event with env built by start (the runner emulation, or actionEnv).
func (s *shop) runOnTag(t *testing.T, tag, commit string, start func(harness.Event) map[string]string) releaseRun {
	t.Helper()
	if info, err := os.Stat(s.app.Dir); err == nil && ownerUID(info) != os.Geteuid() {
		chownR(t, s.app.Dir, os.Geteuid()) // the runner emulation gave the checkout away; git here runs as us
	}
	s.app.Git("tag", tag, commit)
	s.app.PushTo(s.gh, shopRepo)
	repo := harness.EventRepo{FullName: shopRepo, DefaultBranch: "main"}
	r := s.exec(start(s.gh.PushEvent(repo, "refs/tags/"+tag, zeroSHA, commit, false)))
	out := releaseRun{runResult: r, images: map[string]imageOut{}}
	if r.code != 0 && r.code != 3 {
		t.Fatalf("run on %s exit %d\nstdout:\n%s\nstderr:\n%s", tag, r.code, r.stdout, r.stderr)
	}
	var images []imageOut
	r.output(t, "images", &images)
	for _, im := range images {
		out.images[im.Service] = im
	}
	return out
}

// registryDigests returns, per image tag of repository (acme/cart), the
// digest the registry serves for it. Cosign's evidence tags
// (sha256-<hex>.sig, .att, .sbom) are left out: they are signatures and
// attestations bound to an image's digest, not images of the service.
func (s *shop) registryDigests(t *testing.T, repository string) map[string]string {
	t.Helper()
	tags, err := remote.List(mustRepo(t, s.reg.Ref(repository)), remote.WithAuth(s.reg.Authenticator()))
	if err != nil {
		t.Fatalf("listing %s: %v", repository, err)
	}
	out := map[string]string{}
	for _, tag := range tags {
		if evidenceTag.MatchString(tag) {
			continue
		}
		out[tag] = s.headDigest(s.reg.Ref(repository) + ":" + tag)
	}
	return out
}

// evidenceTag matches cosign's tags for a digest's signature, attestations
// and SBOM.
var evidenceTag = regexp.MustCompile(`^sha256-[0-9a-f]{64}\.(sig|att|sbom)$`)

// checkRelease runs the release-candidate to release story on commit, whose
// push to main already published cart and checkout at pushed (service →
// digest): v2.1.1-rc1 re-tags them (no rebuild) and opens the staging PR;
// once it is merged, v2.1.1 re-tags the very same digests as 2.1.1 and
// opens the prod PR pinning them, in one run each. The registry ends with
// one digest per service for the commit, under sha-<commit>, 2.1.1-rc1 and
// 2.1.1. It returns the release run.
func (s *shop) checkRelease(t *testing.T, commit string, pushed map[string]string, start func(harness.Event) map[string]string) releaseRun {
	t.Helper()
	rc := s.runOnTag(t, "v2.1.1-rc1", commit, start)
	if rc.code != 3 { // the vulnerable frontend is built and blocked, as ever
		t.Errorf("rc run exit %d, want 3 (frontend blocked)\n%s", rc.code, rc.stderr)
	}
	for svc, d := range pushed {
		if im := rc.images[svc]; im.Digest != d || !im.Pushed || !slices.Contains(im.Tags, "2.1.1-rc1") {
			t.Errorf("rc %s = %+v, want the pushed digest %s re-tagged 2.1.1-rc1", svc, im, d)
		}
		if group := serviceGroup(rc.stdout, svc); strings.Contains(group, "STEP 1/") || !strings.Contains(group, "tagging it again instead of building") {
			t.Errorf("the rc run rebuilt %s:\n%s", svc, group)
		}
	}
	staging := s.gh.PullByHead(manifestRepo, "automator/staging", "")
	if staging == nil {
		t.Fatalf("the rc run opened no staging PR; pulls: %+v", s.gh.PullRequests(manifestRepo))
	}
	s.gh.MergePull(manifestRepo, staging.Number)

	rel := s.runOnTag(t, "v2.1.1", commit, start)
	if rel.code != 3 {
		t.Errorf("release run exit %d, want 3 (frontend blocked for prod)\n%s", rel.code, rel.stderr)
	}
	var prs []map[string]any
	rel.output(t, "pull-requests", &prs)
	if len(prs) != 1 || prs[0]["environment"] != "prod" {
		t.Errorf("release pull-requests = %v, want prod's", prs)
	}
	prod, ok := s.gh.ReadFile(manifestRepo, "automator/prod", "envs/prod/kustomization.yaml")
	if !ok {
		t.Fatalf("the release run opened no prod PR; pulls: %+v", s.gh.PullRequests(manifestRepo))
	}
	for svc, d := range pushed {
		if im := rel.images[svc]; im.Digest != d || !im.Pushed || !slices.Contains(im.Tags, "2.1.1") {
			t.Errorf("release %s = %+v, want the pushed digest %s re-tagged 2.1.1", svc, im, d)
		}
		if group := serviceGroup(rel.stdout, svc); strings.Contains(group, "STEP 1/") {
			t.Errorf("the release run rebuilt %s:\n%s", svc, group)
		}
		if !strings.Contains(prod, d) {
			t.Errorf("prod's PR does not pin %s at %s:\n%s", svc, d, prod)
		}
		digests := s.registryDigests(t, "acme/"+svc)
		distinct := map[string]bool{}
		for _, dd := range digests {
			distinct[dd] = true
		}
		short := "sha-" + commit[:12]
		if len(distinct) != 1 || digests[short] != d || digests["2.1.1-rc1"] != d || digests["2.1.1"] != d {
			t.Errorf("%s in the registry: %v; want one digest (%s) under %s, 2.1.1-rc1 and 2.1.1", svc, digests, d, short)
		}
	}
	if !strings.Contains(prod, "newTag: \"2.1.1\"") && !strings.Contains(prod, "newTag: 2.1.1") {
		t.Errorf("prod's PR does not name the release 2.1.1:\n%s", prod)
	}
	if strings.Contains(prod, "frontend\n    newTag: \"2.1") {
		t.Errorf("prod got the blocked frontend:\n%s", prod)
	}
	return rel
}

// serviceGroup is the text of svc's ::group:: in an Actions log.
func serviceGroup(stdout, svc string) string {
	_, rest, _ := strings.Cut(stdout, "::group::"+svc+"\n")
	group, _, _ := strings.Cut(rest, "::endgroup::")
	return group
}
