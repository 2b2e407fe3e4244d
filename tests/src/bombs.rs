//! Components that attack admission rather than the sandbox: small or
//! plain inputs that make a compiler work hard. Generated here (with
//! `wasm-encoder`), not built: they need not run, only be compiled.

use wasm_encoder::{
    CodeSection, Component, Function, FunctionSection, Instruction as I, Module, ModuleSection,
    TypeSection, ValType,
};

/// A component holding one core module of `functions` functions, each a
/// straight run of `ops` additions over `locals` locals: valid and plain.
/// Many small functions are what costs a compiler most per byte: 90,000
/// empty ones (1.3 MB) take about 6 s and 500 MB to compile here; one
/// function of a million ops (7 MB) needs about 100 MB.
pub fn compile_heavy(functions: u32, ops: u32, locals: u32) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    let mut funcs = FunctionSection::new();
    let mut code = CodeSection::new();
    for _ in 0..functions {
        funcs.function(0);
        let mut f = Function::new([(locals, ValType::I32)]);
        for i in 0..ops {
            let a = i % (locals + 1);
            let b = (i * 7 + 3) % (locals + 1);
            f.instruction(&I::LocalGet(a))
                .instruction(&I::LocalGet(b))
                .instruction(&I::I32Add)
                .instruction(&I::LocalSet((i * 13 + 5) % (locals + 1)));
        }
        f.instruction(&I::LocalGet(0)).instruction(&I::End);
        code.function(&f);
    }
    let mut module = Module::new();
    module.section(&types).section(&funcs).section(&code);
    let mut c = Component::new();
    c.section(&ModuleSection(&module));
    c.finish()
}

/// A component that instantiates one empty core module `instances` times:
/// tiny, valid, and over the per-sandbox maximum of core instances when
/// `instances` is above it.
pub fn many_instances(instances: u32) -> Vec<u8> {
    let module = Module::new();
    let mut core = wasm_encoder::InstanceSection::new();
    for _ in 0..instances {
        core.instantiate(0, Vec::<(&str, wasm_encoder::ModuleArg)>::new());
    }
    let mut c = Component::new();
    c.section(&ModuleSection(&module)).section(&core);
    c.finish()
}
