package cli

func init() {
	register("service", "install and control the system service", notImplemented("service"))
}
