// Package deploy holds the Kubernetes manifests of `automator watch`; this
// test renders them with kustomize (as a library, so no binary is needed)
// and checks what a cluster relies on.
package deploy

import (
	"strings"
	"testing"

	"github.com/deployment-automator/automator/internal/config"
)

func TestKustomizeBuildBase(t *testing.T) {
	objs := render(t, "base")
	for _, kind := range []string{"Deployment", "ServiceAccount", "Service", "ConfigMap"} {
		if objs[kind] == nil {
			t.Errorf("kustomize build renders no %s", kind)
		}
	}
	dep := objs["Deployment"]
	if dep == nil {
		t.FailNow()
	}
	spec := dig(t, dep, "spec", "template", "spec").(map[string]any)
	c := spec["containers"].([]any)[0].(map[string]any)
	if img := c["image"].(string); !strings.HasPrefix(img, "ghcr.io/deployment-automator/automator:") {
		t.Errorf("container image %q has no tag from images:", img)
	}
	args := strings.Join(toStrings(c["args"]), " ")
	for _, want := range []string{"watch", "--listen=:8080", "--ops-listen=:9090", "--config=/etc/automator/automator.yaml"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if got := dig(t, c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s path %v, want %s", probe, got, path)
		}
		if got := dig(t, c, probe, "httpGet", "port"); got != "metrics" {
			t.Errorf("%s port %v, want metrics", probe, got)
		}
	}
	ports := map[string]bool{}
	for _, p := range c["ports"].([]any) {
		ports[p.(map[string]any)["name"].(string)] = true
	}
	if !ports["webhooks"] || !ports["metrics"] {
		t.Errorf("container ports %v, want webhooks and metrics", ports)
	}
	secrets := map[string]bool{}
	for _, e := range c["env"].([]any) {
		em := e.(map[string]any)
		if vf, ok := em["valueFrom"].(map[string]any); ok {
			if ref, ok := vf["secretKeyRef"].(map[string]any); ok && ref["name"] == "automator" {
				secrets[em["name"].(string)] = true
			}
		}
		if _, ok := em["value"]; ok && em["name"] != "HOME" {
			t.Errorf("env %v carries a literal value; secrets must come from secretKeyRef", em["name"])
		}
	}
	for _, want := range []string{"GITHUB_TOKEN", "WEBHOOK_SECRET", "AUTOMATOR_APP_PRIVATE_KEY", "REGISTRY_PASSWORD"} {
		if !secrets[want] {
			t.Errorf("env %s is not a reference to Secret automator", want)
		}
	}
	cmName := objs["ConfigMap"]["metadata"].(map[string]any)["name"].(string)
	var mounted bool
	for _, v := range spec["volumes"].([]any) {
		if cm, ok := v.(map[string]any)["configMap"].(map[string]any); ok && cm["name"] == cmName {
			mounted = true
		}
	}
	if !mounted || !strings.HasPrefix(cmName, "automator-config-") {
		t.Errorf("ConfigMap %q (hashed name) is not the one mounted", cmName)
	}
	if spec["serviceAccountName"] != "automator" {
		t.Errorf("serviceAccountName %v, want automator", spec["serviceAccountName"])
	}
	sel := dig(t, dep, "spec", "selector", "matchLabels").(map[string]any)
	svcSel := dig(t, objs["Service"], "spec", "selector").(map[string]any)
	if sel["app.kubernetes.io/name"] != "automator" || svcSel["app.kubernetes.io/name"] != "automator" {
		t.Errorf("selectors %v / %v do not select the watcher", sel, svcSel)
	}
}

// TestExampleConfigIsValid loads the automator.yaml shipped in the ConfigMap
// with the real strict loader, so the example never drifts from the schema.
func TestExampleConfigIsValid(t *testing.T) {
	cfg, err := config.Load("base/automator.yaml")
	if err != nil {
		t.Fatalf("deploy/base/automator.yaml: %v", err)
	}
	if cfg.Watch == nil || len(cfg.Watch.Rules) == 0 || cfg.Watch.WebhookSecretEnv != "WEBHOOK_SECRET" {
		t.Errorf("example config has no watch rules or a different webhook secret variable than the Deployment")
	}
}

func dig(t *testing.T, m any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		mm, ok := m.(map[string]any)
		if !ok {
			t.Fatalf("no %q in %v", k, keys)
		}
		m = mm[k]
	}
	return m
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}
