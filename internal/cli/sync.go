package cli

func init() {
	register("sync", "run one two-way pass and exit", notImplemented("sync"))
}
