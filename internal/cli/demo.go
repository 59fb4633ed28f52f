package cli

func init() {
	register("demo", "run a self-contained demo", notImplemented("demo"))
}
