package cli

func init() {
	register("status", "show the daemon's status", notImplemented("status"))
}
