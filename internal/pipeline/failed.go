package pipeline

import (
	"errors"
	"slices"
	"strings"

	"github.com/deployment-automator/automator/internal/build"
)

// maxReasonLen bounds the one-line reason of a failed service, so a
// summary row stays a row.
const maxReasonLen = 300

// ForReport returns images as the job summary and the images output show
// them: every selected service, those that failed (named by err, a
// *build.FailedError from BuildStage.Run) marked with a one-line reason, an
// entry added for a service whose build produced no image. images itself is
// not modified; promote from images, not from this list.
func ForReport(images []*Image, err error) []*Image {
	var fe *build.FailedError
	if !errors.As(err, &fe) {
		return images
	}
	out := make([]*Image, 0, len(images)+len(fe.Failed))
	listed := map[string]bool{}
	for _, im := range images {
		listed[im.Service] = true
		if ferr, ok := fe.Failed[im.Service]; ok {
			c := *im
			c.Error = reason(ferr)
			out = append(out, &c)
			continue
		}
		out = append(out, im)
	}
	names := make([]string, 0, len(fe.Failed))
	for n := range fe.Failed {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if listed[n] {
			continue
		}
		ferr := fe.Failed[n]
		im := &Image{Service: n, Error: reason(ferr)}
		var se *ServiceError
		if errors.As(ferr, &se) {
			im.Image, im.Tags = se.Image, se.Tags
		}
		out = append(out, im)
	}
	return out
}

// reason is the one-line form of a service's failure: the error's first
// line and, for a failed build, the builder's last line (which usually
// names the Dockerfile instruction that failed).
func reason(err error) string {
	line, _, _ := strings.Cut(err.Error(), "\n")
	var be *build.Error
	if errors.As(err, &be) && len(be.Output) > 0 {
		line += " — " + be.Output[len(be.Output)-1]
	}
	line = strings.TrimSpace(line)
	if r := []rune(line); len(r) > maxReasonLen {
		line = string(r[:maxReasonLen-1]) + "…"
	}
	return line
}
