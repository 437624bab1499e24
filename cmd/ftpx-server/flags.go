package main

import (
	"fmt"
	"strconv"
	"strings"

	"ftpx/conf"

	"github.com/urfave/cli/v2"
)

// serveFlags are serve's flags: --config, and one for each of conf's
// settings, named as its key with '-' for '_'. They are accepted before
// and after "serve" (the default command); loadConfig applies them.
func serveFlags() []cli.Flag {
	flags := []cli.Flag{&cli.StringFlag{Name: "config", Usage: "INI config `FILE` (flags override it)"}}
	for _, s := range conf.Settings() {
		if s.Bool {
			flags = append(flags, &cli.BoolFlag{Name: s.Flag(), Usage: s.Usage, DefaultText: s.DefaultText()})
			continue
		}
		// urfave/cli shows the first `quoted` word as the flag's argument.
		usage := strings.Replace(s.Usage, s.Arg, "`"+s.Arg+"`", 1)
		flags = append(flags, &cli.StringFlag{Name: s.Flag(), Usage: usage, DefaultText: s.DefaultText()})
	}
	return flags
}

// loadConfig layers the flags over the config file over the defaults. A
// flag's value goes through its setting's check, as the file's does, and a
// bad one is named by its flag: `--max-conns: "lots" is not a number`.
func loadConfig(c *cli.Context) (conf.Config, error) {
	cfg := conf.Default()
	if cc := setBy(c, "config"); cc != nil {
		var err error
		if cfg, err = conf.Load(cc.String("config")); err != nil {
			return cfg, err
		}
	}
	for _, s := range conf.Settings() {
		cc := setBy(c, s.Flag())
		if cc == nil {
			continue
		}
		v := cc.String(s.Flag())
		if s.Bool {
			v = strconv.FormatBool(cc.Bool(s.Flag()))
		}
		if err := s.Set(&cfg, v, ""); err != nil {
			return cfg, fmt.Errorf("--%s: %w", s.Flag(), err)
		}
	}
	return cfg, cfg.Validate()
}

// setBy returns the context in which the flag was given: the serve
// command's or, for flags before "serve", the app's; nil when neither.
func setBy(c *cli.Context, name string) *cli.Context {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) {
			return cc
		}
	}
	return nil
}
