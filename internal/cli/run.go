package cli

func init() {
	register("run", "run the daemon in the foreground", notImplemented("run"))
}
