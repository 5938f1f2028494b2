package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/deployment-automator/automator/internal/actions"
	"github.com/deployment-automator/automator/internal/evidence"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/gitops"
)

// ImageOutput is one entry of the `images` step output of build and run,
// and of the JSON list build prints: one schema for both.
type ImageOutput struct {
	Service string   `json:"service"`
	Image   string   `json:"image"`
	Tags    []string `json:"tags"`
	Digest  string   `json:"digest"`
	Pushed  bool     `json:"pushed"`
	// Status is "failed" for a service whose build, scan or push failed,
	// with Error its one-line reason; empty otherwise.
	Status string `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
	// References are repo:tag@digest for every repository pushed to (only when pushed).
	References []string `json:"references,omitempty"`
	// Layout is the OCI layout directory (only when it is kept).
	Layout string `json:"layout,omitempty"`
	// Evidence are the signature and attestations written for the pushed
	// image (config sign), one set per repository.
	Evidence []evidence.Attached `json:"evidence,omitempty"`
}

// ImageOutputs renders images in the `images` schema; never nil.
func ImageOutputs(images []*Image) []ImageOutput {
	out := make([]ImageOutput, 0, len(images))
	for _, im := range images {
		o := ImageOutput{Service: im.Service, Image: im.Image, Tags: im.Tags, Digest: im.Digest, Pushed: im.Pushed, References: im.References, Layout: im.Layout, Evidence: im.Evidence}
		if im.Error != "" {
			o.Status, o.Error = "failed", im.Error
		}
		out = append(out, o)
	}
	return out
}

type prOutput struct {
	Environment string `json:"environment"`
	Number      int    `json:"number,omitempty"`
	URL         string `json:"url,omitempty"`
	Branch      string `json:"branch"`
	Created     bool   `json:"created"`
	Updated     bool   `json:"updated"`
}

type commitOutput struct {
	Environment string `json:"environment"`
	SHA         string `json:"sha"`
	URL         string `json:"url,omitempty"`
}

type blockedOutput struct {
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Digest      string `json:"digest"`
}

// Outputs renders the step outputs images, pull-requests, commits and blocked.
func Outputs(images []*Image, envs []EnvOutcome) ([]actions.Output, error) {
	imgs := ImageOutputs(images)
	for i := range imgs {
		// run's step output keeps to the schema's required fields, as it
		// always has; build's list adds where each image went.
		imgs[i].References, imgs[i].Layout = nil, ""
	}
	blocked := []blockedOutput{}
	for _, im := range images {
		for _, e := range im.Blocked {
			blocked = append(blocked, blockedOutput{Service: im.Service, Environment: e, Digest: im.Digest})
		}
	}
	prs, commits := []prOutput{}, []commitOutput{}
	for _, o := range envs {
		var be *gate.BlockedError
		if errors.As(o.Err, &be) {
			for _, b := range be.Images {
				blocked = append(blocked, blockedOutput{Service: b.Service, Environment: o.Env, Digest: b.Image.Digest})
			}
		}
		if o.Result == nil {
			continue
		}
		if pr := o.Result.PR; pr != nil {
			prs = append(prs, prOutput{Environment: o.Env, Number: pr.Number, URL: pr.URL, Branch: pr.Branch, Created: pr.Created, Updated: pr.Updated})
		} else if o.Result.Commit != "" {
			commits = append(commits, commitOutput{Environment: o.Env, SHA: o.Result.Commit, URL: o.Result.CommitURL})
		}
	}
	sort.Slice(blocked, func(i, j int) bool {
		if blocked[i].Service != blocked[j].Service {
			return blocked[i].Service < blocked[j].Service
		}
		if blocked[i].Environment != blocked[j].Environment {
			return blocked[i].Environment < blocked[j].Environment
		}
		return blocked[i].Digest < blocked[j].Digest
	})
	blocked = dedupe(blocked)
	var outs []actions.Output
	for _, o := range []struct {
		name string
		v    any
	}{{"images", imgs}, {"pull-requests", prs}, {"commits", commits}, {"blocked", blocked}} {
		b, err := json.Marshal(o.v)
		if err != nil {
			return nil, fmt.Errorf("encoding output %s: %w", o.name, err)
		}
		outs = append(outs, actions.Output{Name: o.name, Value: string(b)})
	}
	return outs, nil
}

func dedupe(bs []blockedOutput) []blockedOutput {
	var out []blockedOutput
	for i, b := range bs {
		if i > 0 && b == bs[i-1] {
			continue
		}
		out = append(out, b)
	}
	if out == nil {
		return []blockedOutput{}
	}
	return out
}

// SummaryMarkdown renders the job summary: one table of images with their
// scan verdicts, one of environments with their commit or pull request.
func SummaryMarkdown(images []*Image, envs []EnvOutcome) string {
	var b strings.Builder
	b.WriteString("## automator\n\n")
	if len(images) > 0 {
		b.WriteString("| service | image | digest | pushed | scan |\n|---|---|---|---|---|\n")
		for _, im := range images {
			digest := "`" + shortDigest(im.Digest) + "`"
			if im.Digest == "" {
				digest = "—"
			}
			result := verdictCell(im)
			if im.Error != "" {
				result = "**failed**: " + strings.ReplaceAll(im.Error, "|", "\\|")
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", im.Service, imageCell(im), digest, yesNo(im.Pushed), result)
		}
		b.WriteString("\n")
	}
	if len(envs) > 0 {
		b.WriteString("| environment | result |\n|---|---|\n")
		for _, o := range envs {
			fmt.Fprintf(&b, "| %s | %s |\n", o.Env, envCell(o))
		}
		b.WriteString("\n")
	}
	for _, im := range images {
		for _, v := range im.Verdicts {
			if v.Outcome == gate.Pass || len(v.Deciding) == 0 {
				continue
			}
			fmt.Fprintf(&b, "<details><summary>%s — %s in %s</summary>\n\n| id | package | installed → fixed | severity |\n|---|---|---|---|\n", im.Service, v.Outcome, v.Env)
			for _, f := range v.Deciding {
				fixed := f.Fixed
				if fixed == "" {
					fixed = "no fix"
				}
				fmt.Fprintf(&b, "| %s | %s | %s → %s | %s |\n", f.ID, f.Package, f.Installed, fixed, f.Severity)
			}
			b.WriteString("\n</details>\n\n")
		}
	}
	for _, im := range images {
		if r := im.Report; r != nil {
			fmt.Fprintf(&b, "Scanned with %s; vulnerability DB %s.\n", r.Scanner, r.DB.Describe(r.ScannedAt))
			break
		}
	}
	return gitops.CapMarkdown(b.String(), gitops.MaxJobSummary, "…cut to GitHub's 1 MiB job summary limit; the run's log has every image and finding.\n")
}

// imageCell is REPOSITORY:TAG with the last (semver) tag, or the bare
// repository of an untagged image.
func imageCell(im *Image) string {
	if len(im.Tags) == 0 {
		return im.Image
	}
	return im.Image + ":" + im.Tags[len(im.Tags)-1]
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func verdictCell(im *Image) string {
	if len(im.Verdicts) == 0 {
		return "not scanned"
	}
	var parts []string
	for _, v := range im.Verdicts {
		c := v.Counts
		parts = append(parts, fmt.Sprintf("%s: **%s** (C%d H%d M%d L%d)", v.Env, v.Outcome, c[gate.SeverityCritical], c[gate.SeverityHigh], c[gate.SeverityMedium], c[gate.SeverityLow]))
	}
	return strings.Join(parts, "<br>")
}

func envCell(o EnvOutcome) string {
	if o.Result != nil && o.Result.Frozen != nil {
		f := o.Result.Frozen
		c := *o.Result
		c.Frozen = nil
		return envCell(EnvOutcome{Env: o.Env, Result: &c, Err: o.Err}) + "; frozen until " + f.Until.UTC().Format(time.RFC3339)
	}
	if o.Result != nil && len(o.Result.Held) > 0 {
		held := o.Result.Held
		o.Result = withoutHeld(o.Result)
		var parts []string
		for _, h := range held {
			parts = append(parts, h.Service+" ("+h.Reason+")")
		}
		return envCell(o) + "; held: " + strings.ReplaceAll(strings.Join(parts, ", "), "|", "\\|")
	}
	var be *gate.BlockedError
	if errors.As(o.Err, &be) && o.Result != nil {
		names := make([]string, len(be.Images))
		for i, b := range be.Images {
			names[i] = b.Service
		}
		return envCell(EnvOutcome{Env: o.Env, Result: o.Result}) + "; blocked by the gate: " + strings.Join(names, ", ")
	}
	switch {
	case o.Err != nil:
		return "failed: " + strings.ReplaceAll(o.Err.Error(), "|", "\\|")
	case o.Result == nil:
		return "nothing to do"
	case o.Result.PR != nil:
		verb := "up to date"
		if o.Result.PR.Created {
			verb = "opened"
		} else if o.Result.PR.Updated {
			verb = "updated"
		}
		return fmt.Sprintf("pull request [#%d](%s) %s", o.Result.PR.Number, o.Result.PR.URL, verb)
	case o.Result.Commit != "":
		return fmt.Sprintf("commit [`%s`](%s)", shortSHA(o.Result.Commit), o.Result.CommitURL)
	}
	return "no change"
}

// withoutHeld is a copy of r without its holds.
func withoutHeld(r *gitops.Result) *gitops.Result {
	c := *r
	c.Held = nil
	return &c
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// WriteResults writes one result file per image (<dir>/<service>.json) for a
// fan-out job to upload as an artifact.
func WriteResults(dir string, images []*Image) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating results dir: %w", err)
	}
	for _, im := range images {
		c := *im
		c.Layout = ""
		b, err := json.MarshalIndent(&c, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding result of %s: %w", im.Service, err)
		}
		if err := os.WriteFile(filepath.Join(dir, im.Service+".json"), append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing result of %s: %w", im.Service, err)
		}
	}
	return nil
}

// ReadResults reads every result file under dir (recursively, as
// download-artifact lays them out), sorted by service.
func ReadResults(dir string) ([]*Image, error) {
	var out []*Image
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var im Image
		if err := json.Unmarshal(b, &im); err != nil {
			return fmt.Errorf("reading result %s: %w", path, err)
		}
		if im.Service == "" || im.Digest == "" {
			return fmt.Errorf("reading result %s: not an automator build result (no service or digest)", path)
		}
		out = append(out, &im)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading results from %s: %w", dir, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("reading results from %s: no result files", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out, nil
}

// PrintResult prints what a write-back did, or with dryRun what it would do:
// the diff, then the commit or pull request.
func PrintResult(w io.Writer, res *gitops.Result, dryRun bool) {
	verb := map[bool]string{true: "would ", false: ""}[dryRun]
	for _, h := range res.Held {
		fmt.Fprintf(w, "%s: %s held, not promoted: %s\n", res.Env, h.Service, h.Reason)
	}
	if f := res.Frozen; f != nil {
		fmt.Fprintf(w, "%s: in a freeze window until %s %s: %s\n", res.Env, f.Until.UTC().Format(time.RFC3339), f.Reason,
			map[bool]string{true: "nothing committed", false: "pull request marked " + gitops.FreezeLabel}[res.Mode == "commit"])
	}
	if len(res.Files) == 0 {
		switch s := res.Superseded; {
		case s != nil && s.Number > 0:
			// A superseded pull request asked for images the environment
			// no longer wants; it was withdrawn rather than left mergeable.
			// No link: output naming a pull request link names an open one.
			fmt.Fprintf(w, "%s: %s pull request #%d: %s\n", res.Env, map[bool]string{true: "would close", false: "closed"}[dryRun], s.Number, s.Reason)
		case s != nil:
			fmt.Fprintf(w, "%s: %s branch %s: %s\n", res.Env, map[bool]string{true: "would delete", false: "deleted"}[dryRun], s.Branch, s.Reason)
		case len(res.Held) > 0 || res.Frozen != nil:
			// Said above.
		default:
			fmt.Fprintf(w, "%s: nothing to change (%s@%s already runs these images)\n", res.Env, res.Repo, res.Branch)
		}
		return
	}
	fmt.Fprint(w, res.Diff())
	switch {
	case res.PR != nil && res.PR.Created:
		fmt.Fprintf(w, "%s: %sopen pull request %q (%s → %s) %s\n", res.Env, verb, res.PR.Title, res.PR.Branch, res.Branch, res.PR.URL)
	case res.PR != nil && res.PR.Updated:
		fmt.Fprintf(w, "%s: %supdate pull request #%d %s\n", res.Env, verb, res.PR.Number, res.PR.URL)
	case res.PR != nil:
		fmt.Fprintf(w, "%s: pull request #%d is up to date %s\n", res.Env, res.PR.Number, res.PR.URL)
	case res.Commit != "":
		fmt.Fprintf(w, "%s: %scommit to %s@%s %s\n", res.Env, verb, res.Repo, res.Branch, map[bool]string{true: "", false: res.CommitURL}[dryRun])
	}
	// A local git remote has no pull request API: the pushed branch plus
	// this text is the pull request.
	if res.PR != nil && (dryRun || res.PR.URL == "") {
		fmt.Fprintf(w, "\n--- pull request: %s ---\n%s\n", res.PR.Title, res.PR.Body)
	}
}

// ImagesJSON is build's `images` list as one line of JSON: every selected
// service (ForReport: failed ones carry their status and reason), in the
// ImageOutput schema shared with the step output.
func ImagesJSON(images []*Image, runErr error) (string, error) {
	data, err := json.Marshal(ImageOutputs(ForReport(images, runErr)))
	if err != nil {
		return "", fmt.Errorf("encoding images: %w", err)
	}
	return string(data), nil
}
