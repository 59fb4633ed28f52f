package cli

func init() {
	register("check", "validate the config", notImplemented("check"))
}
