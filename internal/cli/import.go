package cli

func init() {
	register("import", "translate an mbsync or OfflineIMAP config", notImplemented("import"))
}
