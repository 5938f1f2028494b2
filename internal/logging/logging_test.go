package logging

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestRedactorScrubsEveryOutput(t *testing.T) {
	var out, ann, mask bytes.Buffer
	r := NewRedactor(&mask)
	r.Add("ghp_supersecret123", "x") // "x" is too short to register
	log, err := New(Options{Format: "json", Level: "debug", Out: &out, Annotations: &ann, Redactor: r})
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("token in message ghp_supersecret123")
	log.Warn("token in field", zap.String("auth", "Bearer ghp_supersecret123"))
	log.Error("token in error", zap.Error(errors.New("401 for ghp_supersecret123")))
	r.Add("late-installation-token")
	r.AddKnown("token-from-the-environment")
	log.Info("env", zap.String("tok", "token-from-the-environment"))
	log.Info("later", zap.String("tok", "late-installation-token"))
	for name, b := range map[string]string{"log": out.String(), "annotations": ann.String()} {
		if strings.Contains(b, "supersecret") || strings.Contains(b, "late-installation") || strings.Contains(b, "token-from-the") {
			t.Errorf("%s output leaks a secret:\n%s", name, b)
		}
		if !strings.Contains(b, Mask) {
			t.Errorf("%s output has no mask:\n%s", name, b)
		}
	}
	if got := strings.Count(mask.String(), "::add-mask::"); got != 4 {
		t.Errorf("want 4 add-mask commands (2 secrets x plain+base64), got %d:\n%s", got, mask.String())
	}
	if strings.Contains(mask.String(), "token-from-the-environment") {
		t.Error("a secret from the environment was announced (and so printed)")
	}
	if strings.Contains(out.String(), `"x"`) {
		t.Log("short value kept, as intended")
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("json log line does not parse: %q: %v", line, err)
		}
	}
}

func TestAnnotations(t *testing.T) {
	var out, ann bytes.Buffer
	log, err := New(Options{Out: &out, Annotations: &ann, Redactor: NewRedactor(nil)})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("not annotated")
	log.With(zap.String("environment", "prod")).Error("invalid config", zap.String(FieldFile, "automator.yaml"), zap.Int(FieldLine, 12), zap.Int(FieldColumn, 5))
	log.Warn("multi\nline 100%")
	want := "::error file=automator.yaml,line=12,col=5::invalid config environment=prod\n::warning::multi%0Aline 100%25\n"
	if ann.String() != want {
		t.Errorf("annotations:\n got %q\nwant %q", ann.String(), want)
	}
	if !strings.Contains(out.String(), "invalid config") {
		t.Errorf("console output missing the error: %q", out.String())
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Level: "verbose", Redactor: NewRedactor(nil)},
		{Format: "xml", Redactor: NewRedactor(nil)},
		{},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted bad options", o)
		}
	}
}

// Registry passwords may hold characters that the JSON and console encoders
// escape (" and \) or that workflow commands escape (%): the escaped form
// must be scrubbed as well as the raw one.
func TestRedactorScrubsEscapedForms(t *testing.T) {
	secrets := []string{`pa"ss\word-1`, "pa%ss,wo:rd-2", "tab\tsecret-3"}
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			var out, ann bytes.Buffer
			r := NewRedactor(nil)
			r.AddKnown(secrets...)
			log, err := New(Options{Format: format, Level: "debug", Out: &out, Annotations: &ann, Redactor: r})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range secrets {
				log.Info("field", zap.String("password", s))
				log.Error("login failed", zap.Error(errors.New("bad credentials "+s)))
				log.Warn("in message " + s)
			}
			for name, b := range map[string]string{"log": out.String(), "annotations": ann.String()} {
				for _, leak := range []string{"ss\\\\word", `pa\"ss`, "ss%25", "ss,wo", "tab\\tsecret", "tab%09secret"} {
					if strings.Contains(b, leak) {
						t.Errorf("%s output leaks an escaped secret (%s):\n%s", name, leak, b)
					}
				}
			}
		})
	}
}

// A secret read from a file usually ends with a newline; the value a
// builder prints (or encodes) is the trimmed one, so that form is a secret
// too, in clear and in base64.
func TestRedactorScrubsTrimmedFileSecret(t *testing.T) {
	r := NewRedactor(nil)
	r.AddKnown("netrc-password-3b9d07\n")
	for _, printed := range []string{"netrc-password-3b9d07", base64.StdEncoding.EncodeToString([]byte("netrc-password-3b9d07"))} {
		if got := r.Redact("x " + printed + " y"); got != "x "+Mask+" y" {
			t.Errorf("Redact(%q) = %q", printed, got)
		}
	}
}

// The well-known secret variables are scrubbed without being announced (the
// runner masks what it hands out); other variables are left alone.
func TestRedactorAddKnownEnv(t *testing.T) {
	env := map[string]string{"GITHUB_TOKEN": "ghs_workflowtoken", "REGISTRY_PASSWORD": "hunter2-registry",
		"INPUT_APP-PRIVATE-KEY": "-----BEGIN KEY-----", "HOME": "/home/runner-public"}
	var mask bytes.Buffer
	r := NewRedactor(&mask)
	r.AddKnownEnv(func(k string) string { return env[k] })
	got := r.Redact("token ghs_workflowtoken password hunter2-registry key -----BEGIN KEY----- home /home/runner-public")
	for _, secret := range []string{"ghs_workflowtoken", "hunter2-registry", "-----BEGIN KEY-----"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q not scrubbed: %s", secret, got)
		}
	}
	if !strings.Contains(got, "/home/runner-public") {
		t.Errorf("a variable that is not a secret was scrubbed: %s", got)
	}
	if mask.Len() != 0 {
		t.Errorf("known secrets were announced: %q", mask.String())
	}
}
