import XCTest
@testable import LRTTensor

/// Winograd's F(4×4, 3×3) against direct convolution written as loops over windows, with Double accumulation.
final class WinogradConvolutionTests: XCTestCase {
    private func random(_ count: Int, seed: UInt64) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in generator.nextFloat(in: -1, 1) }
    }

    private func direct(_ input: [Float], images: Int, _ geometry: WindowGeometry, kernel: [Float], filters: Int) -> [Float] {
        let (height, width, channels) = (geometry.inputHeight, geometry.inputWidth, geometry.channels)
        var output = [Float](repeating: 0, count: images * geometry.outputPositions * filters)
        for image in 0..<images {
            for outputY in 0..<geometry.outputHeight {
                for outputX in 0..<geometry.outputWidth {
                    for filter in 0..<filters {
                        var sum = 0.0
                        for kernelY in 0..<3 {
                            for kernelX in 0..<3 {
                                let y = outputY - geometry.padTop + kernelY, x = outputX - geometry.padLeft + kernelX
                                guard y >= 0 && y < height && x >= 0 && x < width else { continue }
                                for channel in 0..<channels {
                                    sum += Double(input[((image * height + y) * width + x) * channels + channel])
                                        * Double(kernel[((kernelY * 3 + kernelX) * channels + channel) * filters + filter])
                                }
                            }
                        }
                        output[((image * geometry.outputHeight + outputY) * geometry.outputWidth + outputX) * filters + filter] = Float(sum)
                    }
                }
            }
        }
        return output
    }

    func testMatchesDirectConvolutionOnBordersPartialTilesAndOddChannelCounts() throws {
        let cases: [(height: Int, width: Int, channels: Int, filters: Int, padding: Padding)] = [
            (11, 11, 32, 64, .valid),  // cnn-mnist's second convolution: 9×9 outputs, the last tiles partial
            (8, 8, 16, 16, .same),     // whole tiles, every tile on the border
            (7, 5, 3, 5, .same),       // channels and filters not multiples of 8: padded vectors
            (3, 3, 8, 8, .valid),      // one output per image
            (14, 13, 9, 24, .same),    // interior tiles beside border ones
        ]
        for (index, test) in cases.enumerated() {
            let geometry = try XCTUnwrap(WindowGeometry(inputHeight: test.height, inputWidth: test.width, channels: test.channels,
                                                        windowHeight: 3, windowWidth: 3, strideHeight: 1, strideWidth: 1,
                                                        padding: test.padding))
            let winograd = try XCTUnwrap(WinogradConvolution(geometry: geometry, filters: test.filters))
            let images = 3
            let input = random(images * geometry.inputSize, seed: UInt64(index))
            let kernel = random(9 * test.channels * test.filters, seed: UInt64(index) + 50)
            let expected = direct(input, images: images, geometry, kernel: kernel, filters: test.filters)
            var transformed = [Float](repeating: 0, count: winograd.transformedKernelCount)
            winograd.transformKernel(kernel, into: &transformed)
            // Two chunks (2 images, then 1), as a layer's shards and chunks call it.
            var output = [Float](repeating: .nan, count: expected.count)
            var scratch = [Float](repeating: .nan, count: winograd.scratchCount(images: 2))
            let outputSize = geometry.outputPositions * test.filters
            for (first, count) in [(0, 2), (2, 1)] {
                input.withUnsafeBufferPointer { inputs in
                    output.withUnsafeMutableBufferPointer { outputs in
                        winograd.convolve(inputs.baseAddress! + first * geometry.inputSize, images: count, transformedKernel: transformed,
                                          into: outputs.baseAddress! + first * outputSize, scratch: &scratch)
                    }
                }
            }
            // Relative to the largest output: the transforms' rounding grows with the sums, not with each output.
            let worst = zip(output, expected).map { abs($0 - $1) }.max() ?? .nan
            let largest = expected.map(abs).max() ?? 0
            XCTAssertLessThan(worst, 2e-5 * largest, "case \(index): \(test), largest output \(largest)")
        }
    }

    func testAppliesOnlyToThreeByThreeWindowsWithStrideOne() throws {
        func geometry(window: Int, stride: Int) throws -> WindowGeometry {
            try XCTUnwrap(WindowGeometry(inputHeight: 9, inputWidth: 9, channels: 8, windowHeight: window, windowWidth: window,
                                         strideHeight: stride, strideWidth: stride, padding: .same))
        }
        XCTAssertNotNil(WinogradConvolution(geometry: try geometry(window: 3, stride: 1), filters: 8))
        XCTAssertNil(WinogradConvolution(geometry: try geometry(window: 3, stride: 2), filters: 8))
        XCTAssertNil(WinogradConvolution(geometry: try geometry(window: 5, stride: 1), filters: 8))
    }
}
