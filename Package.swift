// swift-tools-version:6.1
import PackageDescription

// LRTTensorAVX2's code generation: AVX2 on x86-64, nothing else elsewhere (the copy is then never called).
#if arch(x86_64)
let avx2Settings: [SwiftSetting] = [.define("LRT_AVX2_COPY"), .unsafeFlags(["-Xcc", "-mavx2"])]
#else
let avx2Settings: [SwiftSetting] = [.define("LRT_AVX2_COPY")]
#endif

let package = Package(
    name: "lrt",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "lrt", targets: ["lrt"]),
        .library(name: "LRTTraining", targets: ["LRTTraining"]),
    ],
    // `swift build --traits MPI` compiles in data-parallel training over MPI (Open MPI's libopenmpi-dev);
    // without it nothing needs libmpi and every run is single-process.
    traits: [
        .trait(name: "MPI", description: "Data-parallel training over MPI (needs libopenmpi-dev; run under mpirun)."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries: a module map and a shim header each, nothing else.
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev"])]),

        // tensors → layers → optimizers → data / file format → training → CLI
        .target(name: "LRTTensor", dependencies: ["CBLAS", "CDNNL"]),
        // The SIMD kernels of LRTTensor that gain most from 256-bit vectors, compiled a second time for AVX2 (its files
        // are symbolic links to LRTTensor's): lrt is built for baseline x86-64 and calls these only on a CPU that has AVX2
        // (`CPUFeatures`). No FMA: the products and sums round as in the baseline build, so the results are the same.
        .target(name: "LRTTensorAVX2", dependencies: ["LRTTensor"],
                swiftSettings: avx2Settings),
        .target(name: "LRTLayers", dependencies: ["LRTTensor", "LRTTensorAVX2"]),
        .target(name: "LRTOptimizers", dependencies: ["LRTTensor", "LRTLayers"]),
        .target(name: "LRTData", dependencies: ["LRTTensor", "LRTHDF5", "CPNG", "CJPEG"]),
        .target(name: "LRTHDF5", dependencies: ["CHDF5"]),
        .target(name: "LRTFormat", dependencies: ["LRTTensor", "LRTLayers", "LRTOptimizers", "LRTHDF5"]),
        .target(name: "LRTReport", dependencies: ["LRTFormat", "LRTHDF5", "LRTLayers", "CPNG"]),
        // The communicator seam: single-process always, MPI only with the MPI trait.
        .target(name: "LRTDistributed", dependencies: [
            "LRTTensor", .target(name: "CMPI", condition: .when(traits: ["MPI"])),
        ]),
        .target(name: "LRTTraining", dependencies: ["LRTTensor", "LRTLayers", "LRTOptimizers", "LRTData", "LRTHDF5", "LRTFormat",
                                                   "LRTDistributed"]),
        .executableTarget(name: "lrt", dependencies: [
            "LRTTraining", "LRTReport", "LRTFormat", "LRTData", "LRTHDF5", "LRTTensor", "LRTLayers", "LRTOptimizers", "LRTDistributed",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "LRTTensorTests", dependencies: ["LRTTensor"]),
        .testTarget(name: "LRTLayersTests", dependencies: ["LRTLayers", "LRTTensorAVX2"]),
        .testTarget(name: "LRTOptimizersTests", dependencies: ["LRTOptimizers"]),
        .testTarget(name: "LRTDataTests", dependencies: ["LRTData", "LRTTensor", "LRTHDF5"], exclude: ["Fixtures"]),
        .testTarget(name: "LRTHDF5Tests", dependencies: ["LRTHDF5"]),
        .testTarget(name: "LRTFormatTests", dependencies: ["LRTFormat", "LRTHDF5"]),
        .testTarget(name: "LRTReportTests", dependencies: ["LRTReport", "LRTFormat", "LRTData"]),
        .testTarget(name: "LRTTrainingTests", dependencies: ["LRTTraining", "LRTData", "LRTFormat", "LRTDistributed"]),
        .testTarget(name: "LRTCommandTests", dependencies: ["lrt", "LRTData", "LRTFormat"]),
    ]
)
