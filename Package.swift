// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "lrt",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "lrt", targets: ["lrt"]),
        .library(name: "LRTTraining", targets: ["LRTTraining"]),
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

        // tensors → layers → optimizers → data / file format → training → CLI
        .target(name: "LRTTensor", dependencies: ["CBLAS", "CDNNL"]),
        .target(name: "LRTLayers", dependencies: ["LRTTensor"]),
        .target(name: "LRTOptimizers", dependencies: ["LRTTensor", "LRTLayers"]),
        .target(name: "LRTData", dependencies: ["LRTTensor", "LRTHDF5", "CPNG", "CJPEG"]),
        .target(name: "LRTHDF5", dependencies: ["CHDF5"]),
        .target(name: "LRTFormat", dependencies: ["LRTTensor", "LRTLayers", "LRTOptimizers", "LRTHDF5"]),
        .target(name: "LRTReport", dependencies: ["LRTFormat", "LRTHDF5", "LRTLayers", "CPNG"]),
        .target(name: "LRTTraining", dependencies: ["LRTTensor", "LRTLayers", "LRTOptimizers", "LRTData", "LRTHDF5", "LRTFormat"]),
        .executableTarget(name: "lrt", dependencies: [
            "LRTTraining", "LRTReport", "LRTFormat", "LRTData", "LRTHDF5", "LRTTensor", "LRTLayers", "LRTOptimizers",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "LRTTensorTests", dependencies: ["LRTTensor"]),
        .testTarget(name: "LRTLayersTests", dependencies: ["LRTLayers"]),
        .testTarget(name: "LRTOptimizersTests", dependencies: ["LRTOptimizers"]),
        .testTarget(name: "LRTDataTests", dependencies: ["LRTData", "LRTTensor", "LRTHDF5"], exclude: ["Fixtures"]),
        .testTarget(name: "LRTHDF5Tests", dependencies: ["LRTHDF5"]),
        .testTarget(name: "LRTFormatTests", dependencies: ["LRTFormat", "LRTHDF5"]),
        .testTarget(name: "LRTReportTests", dependencies: ["LRTReport", "LRTFormat", "LRTData"]),
        .testTarget(name: "LRTTrainingTests", dependencies: ["LRTTraining", "LRTData", "LRTFormat"]),
        .testTarget(name: "LRTCommandTests", dependencies: ["lrt", "LRTData"]),
    ]
)
