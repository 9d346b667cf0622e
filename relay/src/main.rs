fn main() {
    hearth_relay::main()
}
