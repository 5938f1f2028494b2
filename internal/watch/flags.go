package watch

import (
	"errors"
	"fmt"

	"github.com/deployment-automator/automator/internal/config"
)

// Flags are the watch command's choices that only make sense against the
// config: which shard to watch and where to listen for webhooks.
type Flags struct {
	Shard  string // I/N, empty for every repository
	Listen string // webhook address, empty for none
}

// Checked is Flags validated against the config: the parsed shard and the
// webhook secret --listen needs (nil without --listen).
type Checked struct {
	Shard  Shard
	Secret []byte
}

// Check validates f against cfg (read from configPath, named in errors):
// there must be rules to watch, the shard must parse, and --listen needs
// watch.webhookSecretEnv naming a set variable, since webhooks are only
// trusted with a shared secret. Every error is a usage error of the caller.
func (f Flags) Check(cfg *config.Watch, configPath string, getenv func(string) string) (Checked, error) {
	var c Checked
	if cfg == nil || len(cfg.Rules) == 0 {
		return c, fmt.Errorf("%s: watch.rules is empty: nothing to watch", configPath)
	}
	if f.Shard != "" {
		var err error
		if c.Shard, err = ParseShard(f.Shard); err != nil {
			return c, err
		}
	}
	if f.Listen != "" {
		if cfg.WebhookSecretEnv == "" || getenv(cfg.WebhookSecretEnv) == "" {
			return c, errors.New("--listen serves webhooks, which need a shared secret: set watch.webhookSecretEnv and that variable")
		}
		c.Secret = []byte(getenv(cfg.WebhookSecretEnv))
	}
	return c, nil
}
